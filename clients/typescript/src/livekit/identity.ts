/**
 * Who is on the line: the caller of a LiveKit job, resolved in a fixed order.
 *
 * 1. **Job metadata** — JSON with `user_id` (and optional `tenant_id`, `name`, `phone`)
 *    that your token server stamps on the dispatch: your backend vouches for it.
 * 2. **SIP caller number** — the `sip.phoneNumber` attribute of a SIP participant,
 *    normalised to E.164.
 * 3. **Remote participant identity** — of a person (standard, SIP or connector kind).
 *    Never the agent's own local participant and never another agent: an agent's
 *    identity is the same for every call and would pour every caller into one namespace.
 * 4. **Anonymous** — nothing is recorded and nothing is recalled.
 *
 * Only attributes are read, so LiveKit's objects and plain test doubles both work; this
 * module does not import LiveKit.
 */
import { type CountryCode, parsePhoneNumberFromString } from "libphonenumber-js/min";
import phoneMetadata from "libphonenumber-js/metadata.min.json";

import type { CallerRef } from "../types.js";

/** `ParticipantKind` numbers of the people an agent serves (stable protocol values). */
export const PARTICIPANT_KIND_STANDARD = 0;
export const PARTICIPANT_KIND_SIP = 3;
export const PARTICIPANT_KIND_AGENT = 4;
export const PARTICIPANT_KIND_CONNECTOR = 5;
const CALLER_KINDS = new Set([PARTICIPANT_KIND_STANDARD, PARTICIPANT_KIND_SIP, PARTICIPANT_KIND_CONNECTOR]);
const SIP_PHONE_ATTRIBUTE = "sip.phoneNumber";
const SIP_CALL_ID_ATTRIBUTE = "sip.callID";
/** Shorter national numbers are extensions or short codes, not a caller's phone. */
const MIN_NATIONAL_DIGITS = 7;
/** U+061C ALM, U+200F RLM, U+202B RLE, U+202E RLO, U+2067 RLI, U+2068 FSI. */
const REORDERING_CONTROLS = /[\u061c\u200f\u202b\u202e\u2067\u2068]/u;
/** Unicode format characters (category Cf): zero-width, bidi controls, BOM, tags. */
const FORMAT_CHARACTERS = /\p{Cf}/gu;

/** What identity resolution reads from a participant. */
export interface ParticipantLike {
  readonly identity: string;
  readonly kind?: number;
  readonly attributes?: Record<string, string>;
}

/** What identity resolution reads from a room. */
export interface RoomLike {
  readonly localParticipant?: ParticipantLike;
  readonly remoteParticipants: Map<string, ParticipantLike> | Record<string, ParticipantLike>;
}

/** How the caller was recognised. */
export type IdentitySource = "explicit" | "job_metadata" | "sip" | "participant" | "anonymous";

/**
 * The caller of one call and how we know who they are; `userId` is `undefined` for an
 * anonymous caller, whose call is neither recorded nor recalled.
 */
export class CallerIdentity {
  constructor(
    readonly userId: string | undefined,
    readonly source: IdentitySource,
    readonly extra: {
      tenantId?: string;
      name?: string;
      phone?: string;
      participantIdentity?: string;
      sipCallId?: string;
    } = {},
  ) {}

  /** True when there is no stable id: memory is off for this call. */
  get anonymous(): boolean {
    return this.userId === undefined;
  }

  static anonymousCaller(): CallerIdentity {
    return new CallerIdentity(undefined, "anonymous");
  }

  /** An identity you already know: a user id or `{ id, name }`. */
  static explicit(user: string | { id: string; name?: string }, tenantId?: string): CallerIdentity {
    const id = typeof user === "string" ? user : user.id;
    if (!id || !id.trim()) throw new TypeError("an explicit caller needs a non-empty id");
    return new CallerIdentity(id.trim(), "explicit", {
      tenantId,
      name: typeof user === "string" ? undefined : user.name,
    });
  }

  /** Every identifier seen for this caller, kept with the call for later linking. */
  identifiers(): Record<string, string> {
    const found: Record<string, string | undefined> = {
      identity_source: this.source,
      phone: this.extra.phone,
      livekit_identity: this.extra.participantIdentity,
      sip_call_id: this.extra.sipCallId,
    };
    return Object.fromEntries(Object.entries(found).filter(([, v]) => v)) as Record<string, string>;
  }

  /** The `user` argument of client calls; throws for an anonymous caller. */
  toUser(): CallerRef {
    if (this.userId === undefined) {
      throw new TypeError("an anonymous caller has no user id; memory is off for this call");
    }
    const user: { id: string; name?: string; metadata: Record<string, string> } = {
      id: this.userId,
      metadata: this.identifiers(),
    };
    if (this.extra.name) user.name = this.extra.name;
    return user as CallerRef;
  }
}

/** The main region of a calling code ("1" → US, "44" → GB), as Python's helper reads it:
 * the region's own international dialling prefix (`011` in the US) is then understood. */
function regionOf(defaultCountryCode: string): CountryCode {
  const code = defaultCountryCode.trim().replace(/^\+/, "");
  if (!/^\d+$/.test(code)) {
    throw new TypeError(`defaultCountryCode must be digits like '1' or '44', got '${defaultCountryCode}'`);
  }
  const region = phoneMetadata.country_calling_codes[code]?.[0];
  if (region === undefined) throw new TypeError(`'${defaultCountryCode}' is not a known country calling code`);
  return region;
}

/**
 * A phone number as E.164 (`+15105550100`), or `undefined` when it is not a possible
 * number. A short national number is only completed when `defaultCountryCode` names its
 * country: guessing would file two people under one id.
 *
 * The same rules as the Python package's `normalize_phone` (both are ports of Google's
 * libphonenumber: `libphonenumber-js` here, `phonenumbers` there), so a Node worker and
 * a Python worker give one caller one id: `+44 (0)20 7946 0018` is `+442079460018`,
 * `011 44 ...` dialled from the US is international, a number with an extension or of
 * an impossible length is none. A number holding a bidi control that can show its
 * digits in another order is none; other format characters (zero-width, BOM) are dropped.
 */
export function normalizeE164(raw: string | undefined | null, defaultCountryCode?: string): string | undefined {
  if (raw === undefined || raw === null) return undefined;
  // Read as shown: a control that can display the digits in another order refuses the
  // number ("\u202e0010-555-015" shows as 510-555-0100), other format characters are
  // invisible and dropped. The Python package's rule (entities/_format_chars.py).
  if (REORDERING_CONTROLS.test(raw)) return undefined;
  let text = raw.replace(FORMAT_CHARACTERS, "").trim();
  const lowered = text.toLowerCase();
  for (const scheme of ["tel:", "sips:", "sip:"]) {
    if (lowered.startsWith(scheme)) {
      text = (text.slice(scheme.length).split("@", 1)[0] ?? "").split(";", 1)[0] ?? "";
      break;
    }
  }
  const country = defaultCountryCode ? regionOf(defaultCountryCode) : undefined;
  text = text.trim();
  if (text.startsWith("00")) text = `+${text.slice(2)}`;
  if (!text.startsWith("+") && country === undefined) {
    // A bare long number may still carry its country code ("15105550100").
    const digits = text.replace(/\D/g, "");
    if (digits.length <= 10) return undefined;
    text = `+${digits}`;
  }
  const number = parsePhoneNumberFromString(text, country ? { defaultCountry: country } : {});
  // Possible (right length for its country), not valid: valid also checks number ranges,
  // which lag behind real allocations. An extension is a desk behind a switchboard.
  if (number === undefined || number.ext || !number.isPossible()) return undefined;
  if (number.nationalNumber.length < MIN_NATIONAL_DIGITS) return undefined;
  return number.number;
}

function text(value: unknown): string | undefined {
  if (typeof value === "number" && Number.isInteger(value)) return String(value);
  if (typeof value === "string" && value.trim()) return value.trim();
  return undefined;
}

/** The caller named by the job's metadata (`{"user_id": ...}`), or `undefined`. */
export function callerFromJobMetadata(metadata: string | Record<string, unknown> | undefined | null): CallerIdentity | undefined {
  if (metadata === undefined || metadata === null || metadata === "") return undefined;
  let data: unknown = metadata;
  if (typeof metadata === "string") {
    try {
      data = JSON.parse(metadata);
    } catch {
      return undefined;
    }
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) return undefined;
  const record = data as Record<string, unknown>;
  const userId = text(record["user_id"]);
  if (userId === undefined) return undefined;
  return new CallerIdentity(userId, "job_metadata", {
    tenantId: text(record["tenant_id"]),
    name: text(record["name"] ?? record["user_name"]),
    phone: normalizeE164(text(record["phone"])),
  });
}

function isCaller(participant: ParticipantLike, localIdentity: string | undefined): boolean {
  const identity = participant.identity;
  if (typeof identity !== "string" || !identity.trim()) return false;
  if (localIdentity !== undefined && identity === localIdentity) return false;
  return CALLER_KINDS.has(participant.kind ?? PARTICIPANT_KIND_STANDARD);
}

/**
 * The caller among `participants`: a SIP caller's phone first, else a person's identity;
 * `undefined` when nobody is a person or a SIP caller withholds their number.
 */
export function callerFromParticipants(
  participants: Iterable<ParticipantLike>,
  options: { localIdentity?: string; defaultCountryCode?: string } = {},
): CallerIdentity | undefined {
  const people = [...participants].filter((p) => isCaller(p, options.localIdentity));
  let withheld = false;
  for (const person of people) {
    if (person.kind !== PARTICIPANT_KIND_SIP) continue;
    const attributes = person.attributes ?? {};
    const raw = attributes[SIP_PHONE_ATTRIBUTE];
    const phone = normalizeE164(raw, options.defaultCountryCode);
    if (phone !== undefined) {
      return new CallerIdentity(phone, "sip", {
        phone,
        participantIdentity: person.identity,
        sipCallId: attributes[SIP_CALL_ID_ATTRIBUTE] || undefined,
      });
    }
    // A number attribute without a digit ("anonymous", "Restricted", ""): withheld.
    withheld ||= typeof raw === "string" && !/\d/.test(raw);
  }
  // A SIP caller who withholds their number has no stable id: their participant identity
  // ("sip_anonymous") is the same for every such caller, and taking it (or another person
  // in the room) would show one stranger another's memory.
  if (withheld) return undefined;
  const person = people[0];
  if (person === undefined) return undefined;
  return new CallerIdentity(person.identity, "participant", {
    participantIdentity: person.identity,
    sipCallId: person.attributes?.[SIP_CALL_ID_ATTRIBUTE] || undefined,
  });
}

/**
 * Resolve the caller: job metadata → SIP phone → participant identity → anonymous.
 *
 * @example
 * const identity = resolveCaller({ jobMetadata: ctx.job.metadata, room: ctx.room });
 */
export function resolveCaller(options: {
  jobMetadata?: string | Record<string, unknown> | null;
  room?: RoomLike | null;
  participant?: ParticipantLike;
  defaultCountryCode?: string;
}): CallerIdentity {
  const fromJob = callerFromJobMetadata(options.jobMetadata);
  let localIdentity: string | undefined;
  let candidates: ParticipantLike[] = [];
  if (options.room) {
    try {
      localIdentity = options.room.localParticipant?.identity;
      const remote = options.room.remoteParticipants;
      candidates = remote instanceof Map ? [...remote.values()] : Object.values(remote);
    } catch {
      // a room that is not connected has no participants yet
    }
  }
  if (options.participant) candidates = [options.participant];
  const fromRoom = callerFromParticipants(candidates, { localIdentity, defaultCountryCode: options.defaultCountryCode });
  if (fromJob !== undefined) {
    if (fromRoom === undefined) return fromJob;
    // The backend's id wins; what the room tells us is kept as linked identifiers.
    return new CallerIdentity(fromJob.userId, "job_metadata", {
      ...fromJob.extra,
      phone: fromJob.extra.phone ?? fromRoom.extra.phone,
      participantIdentity: fromRoom.extra.participantIdentity,
      sipCallId: fromRoom.extra.sipCallId,
    });
  }
  return fromRoom ?? CallerIdentity.anonymousCaller();
}

/** The `{{memory}}` placeholder of an instructions template. */
export const MEMORY_PLACEHOLDER = "{{memory}}";

/** Marks the first placeholder while later ones are removed (a noncharacter: no prompt holds it). */
const FIRST_PLACEHOLDER_MARK = "\uffff";

function removePlaceholders(text: string): string {
  return text
    .replace(/^[ \t]*\{\{\s*memory\s*\}\}[ \t]*\r?\n?/gm, "")
    .replace(/\{\{\s*memory\s*\}\}/g, "")
    .replace(/\n{3,}/g, "\n\n");
}

/**
 * `template` with its first `{{memory}}` replaced by `memoryText` and later ones removed
 * (a template put together from parts that each carry one would otherwise send the
 * caller's memory twice); with no memory every placeholder (and a line holding only it)
 * is removed; a template without one gets the block appended.
 */
export function renderMemoryInstructions(template: string, memoryText: string | undefined): string {
  const memory = (memoryText ?? "").trim();
  const first = /\{\{\s*memory\s*\}\}/.exec(template);
  if (first === null) return memory ? `${template.trimEnd()}\n\n${memory}` : template;
  if (!memory) return removePlaceholders(template).trim();
  let head = template.slice(0, first.index);
  let rest = template.slice(first.index + first[0].length);
  if (/\{\{\s*memory\s*\}\}/.test(rest)) {
    const marked = removePlaceholders(head + FIRST_PLACEHOLDER_MARK + rest);
    const at = marked.indexOf(FIRST_PLACEHOLDER_MARK);
    head = marked.slice(0, at);
    rest = marked.slice(at + FIRST_PLACEHOLDER_MARK.length);
  }
  // Joined, not substituted: memory text is data ("$&" or "{{memory}}" in it stays literal).
  return head + memory + rest;
}

// -- caller resolution (SPEC §7) -----------------------------------------------------------

/** What {@link canonicalIdentity} needs of the client. */
export interface CallerResolver {
  resolveCaller(
    identifiers: Array<{ kind: string; value: string; source?: string }>,
    options?: { userId?: string; name?: string; defaultUserId?: string },
  ): Promise<Record<string, unknown>>;
}

/** The identifiers of `identity` as `resolveCaller` takes them. */
export function resolutionIdentifiers(identity: CallerIdentity): Array<{ kind: string; value: string; source: string }> {
  const sources: Record<string, string> = { job_metadata: "metadata", sip: "sip", participant: "livekit", explicit: "app" };
  const source = sources[identity.source] ?? identity.source;
  const { phone, participantIdentity, sipCallId } = identity.extra;
  const found: Array<{ kind: string; value: string; source: string }> = [];
  if (phone) found.push({ kind: "phone", value: phone, source: identity.source === "sip" ? "sip" : source });
  if (participantIdentity && participantIdentity !== phone) {
    found.push({ kind: "livekit_identity", value: participantIdentity, source: "livekit" });
  }
  if (sipCallId) found.push({ kind: "sip_call_id", value: sipCallId, source: "sip" });
  if (identity.source === "job_metadata" && identity.userId) {
    found.push({ kind: "external_id", value: identity.userId, source: "metadata" });
  }
  return found;
}

/**
 * `identity` with its user id replaced by the canonical caller its identifiers resolve
 * to (a caller ringing from a new number whose account is known). The app's own id (job
 * metadata, or explicit) is kept, and the room's identifiers are linked to it in the
 * background; a SIP phone or participant identity is only a default, used when no known
 * caller owns the call's identifiers. A failed resolution keeps the identity as it is.
 */
export async function canonicalIdentity(client: CallerResolver, identity: CallerIdentity): Promise<CallerIdentity> {
  const identifiers = resolutionIdentifiers(identity);
  if (identity.anonymous || identifiers.length === 0) return identity;
  const name = identity.extra.name;
  if (identity.source === "job_metadata" || identity.source === "explicit") {
    void client.resolveCaller(identifiers, { userId: identity.userId, name }).catch(() => undefined);
    return identity;
  }
  try {
    const found = await client.resolveCaller(identifiers, { name, defaultUserId: identity.userId });
    const userId = found["userId"];
    if (typeof userId === "string" && userId && userId !== identity.userId) {
      return new CallerIdentity(userId, identity.source, identity.extra);
    }
  } catch {
    // memory must never stop a call: keep the room's id
  }
  return identity;
}
