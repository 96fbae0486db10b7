"""Writes the labelled long-call set the compaction benchmark runs on.

Each call is a customer-service phone call as a streaming STT would transcribe it:
numbers spoken as words, fillers ("um", "uh-huh"), the agent cut off mid-sentence by the
caller (barge-ins, marked with a dash), "sorry, can you repeat that?", holds while the
agent looks something up, long scripted explanations, and self-repairs ("on Monday, no
wait, I mean Tuesday"). A call runs 10-25 minutes at speaking pace (about 2.5 words a
second plus a pause per turn).

Every call lists its **key items**: the values the scenario put into the conversation
(the caller's name, account numbers, amounts, dates, times, addresses, what was promised,
the question left open), with the second of the call they were first said at. They are
written down here, from the scenario, never read back from the compactor. A repair also
lists the value that was corrected away (``superseded``), which a record must not keep.

    python benchmarks/compaction_calls.py PATH.json   # writes the set out to read or audit

The set is deterministic (fixed seeds): the benchmark builds the same 40 calls each run.
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: A scenario: the agent's long explanations (filler material) and its key beats, each
#: ``(role, text, *(kind, value))``.
Scenario = tuple[list[str], list[tuple[Any, ...]]]

def _words(text: str) -> list[str]:
    return text.split()


WORDS_PER_S = 2.5
PAUSE_S = 1.2

_DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
_TEENS = _words(
    "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen"
)
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_ORD = _words(
    "_ first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth "
    "thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth"
)
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
MONTHS = _words(
    "January February March April May June July August September October"
)
FIRST = _words(
    "Dana Marcus Priya Tomasz Aisha Kevin Lucia Hiroshi Fatima Greg Nadia Oluwaseun Brenda "
    "Mateo Ingrid Samir Colleen Dmitri Yolanda Rajesh Maeve Carlos Ruth Jamal Esther Bogdan "
    "Leilani Pierre Harriet Viktor"
)
LAST = _words(
    "Kowalski Okafor Lindqvist Moreau Haddad Brennan Castellano Nakamura Osei Whitfield "
    "Petrov Delgado Achterberg Quinn Ferreira Hollis Szabo Mbeki Larsen Tran Abernathy Ruiz "
    "Novak Sorensen Gallagher Iyer Baptiste Kuznetsov Ellery Vance"
)
STREETS = _words(
    "Maple Avenue Birchwood Drive Harbor Street Elm Court Kingsley Road Orchard Lane Cedar "
    "Hill Road Lakeview Boulevard Juniper Way Fenwick Street"
)
PETS = _words(
    "Biscuit Pickles Juniper Mochi Rufus Pepper Hazel Ziggy Olive Bruno"
)


def digits_words(number: str) -> str:
    """"4421" -> "four four two one" (how people read out account numbers)."""
    return " ".join(_DIGITS[int(d)] for d in number)


def under_100(n: int) -> str:
    if n < 10:
        return _DIGITS[n]
    if n < 20:
        return _TEENS[n - 10]
    tens, unit = divmod(n, 10)
    return _TENS[tens] + ("" if unit == 0 else f" {_DIGITS[unit]}")


def amount_words(dollars: int, cents: int) -> str:
    hundreds, rest = divmod(dollars, 100)
    parts = []
    if hundreds:
        parts.append(f"{_DIGITS[hundreds]} hundred")
    if rest:
        parts.append(("and " if hundreds else "") + under_100(rest))
    text = " ".join(parts) + " dollars"
    if cents:
        text += f" and {under_100(cents)} cents"
    return text


def ordinal(day: int) -> str:
    if day <= 20:
        return _ORD[day]
    tens, unit = divmod(day, 10)
    return f"{_TENS[tens]} {_ORD[unit]}" if unit else ("thirtieth" if tens == 3 else "twentieth")


def time_words(hour: int, minute: int) -> str:
    suffix = "a m" if hour < 12 else "p m"
    h = hour if hour <= 12 else hour - 12
    if minute == 0:
        return f"{under_100(h)} {suffix}"
    return f"{under_100(h)} {under_100(minute)} {suffix}"


class Call:
    """Builds one call: turns with timestamps, and the key items as they are said."""

    def __init__(self, call_id: str, scenario: str, rng: random.Random) -> None:
        self.id = call_id
        self.scenario = scenario
        self.rng = rng
        self.turns: list[dict[str, Any]] = []
        self.items: list[dict[str, Any]] = []
        self.superseded: list[dict[str, Any]] = []
        self.clock = 0.0

    def say(self, role: str, text: str, *, keys: tuple[tuple[str, str], ...] = ()) -> None:
        for kind, value in keys:
            assert value.lower() in text.lower(), (value, text)
            if not any(i["text"] == value for i in self.items):
                self.items.append({"kind": kind, "text": value, "at_s": round(self.clock, 1)})
        self.turns.append({"role": role, "text": text, "at_s": round(self.clock, 1)})
        self.clock += len(text.split()) / WORDS_PER_S + PAUSE_S

    def user(self, text: str, *keys: tuple[str, str]) -> None:
        self.say("user", text, keys=keys)

    def agent(self, text: str, *keys: tuple[str, str]) -> None:
        self.say("assistant", text, keys=keys)

    def pick(self, options: list[str]) -> str:
        return self.rng.choice(options)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "scenario": self.scenario, "duration_s": round(self.clock, 1),
                "turns": self.turns, "key_items": self.items, "superseded": self.superseded}


# -- conversational texture shared by every scenario -------------------------------------------
ACKS = ["Okay.", "Uh-huh.", "Mm-hmm.", "Yeah.", "Right.", "Okay, yeah.", "Sure.", "Got it.",
        "Yep.", "Okay, um, okay.", "Alright.", "Uh, yeah, okay."]
HOLD_AGENT = [
    "Let me pull that up for you, one moment please.",
    "Okay, bear with me for just a second while the system loads, it's being a little slow "
    "today.",
    "Give me one moment, I'm just going to check a couple of things on my end.",
    "Thank you for your patience, I'm still looking at this, it'll be just another moment.",
    "Alright, I'm still here, the page is just taking a while to refresh.",
    "Sorry about the wait, I'm almost there.",
]
HOLD_USER = ["Sure, no problem.", "Okay.", "Take your time.", "Uh-huh.", "No worries.",
             "Yeah, that's fine.", "Okay, I'll hold."]
REPEAT_ASK = ["Sorry, can you repeat that?", "I'm sorry, what was that?",
              "Sorry, you cut out for a second, could you say that again?",
              "Wait, what? Sorry, say that again?", "Can you hear me? You broke up a little."]
SMALL_TALK = [
    ("assistant", "How's your day going so far?"),
    ("user", "Oh, you know, it's been one of those days, um, but it's fine, it's fine."),
    ("assistant", "I hear you. Well, hopefully we can get this sorted out quickly for you."),
    ("user", "Yeah, that'd be great, I've, uh, I've got a lot going on this week."),
    ("assistant", "Is it still raining over there? I heard it's been pretty bad."),
    ("user", "Oh, it's been pouring all morning, honestly, I haven't even left the house."),
    ("assistant", "I appreciate you bearing with me, I know these calls can take a while."),
    ("user", "No, no, it's fine, I just, uh, I just want it fixed, you know?"),
]
CLOSING = [
    ("assistant", "Is there anything else I can help you with today?"),
    ("user", "Um, no, I think that's everything. Thank you so much."),
    ("assistant", "You're very welcome. Thank you for calling, and have a great rest of "
                  "your day."),
    ("user", "You too, bye."),
]


def filler_beat(call: Call, explanations: list[str]) -> None:
    """One stretch of a real call that carries nothing durable."""
    kind = call.rng.random()
    if kind < 0.3:
        call.agent(call.pick(HOLD_AGENT))
        call.user(call.pick(HOLD_USER))
        if call.rng.random() < 0.5:
            call.agent(call.pick(HOLD_AGENT))
            call.user(call.pick(ACKS))
    elif kind < 0.6:
        text = call.pick(explanations)
        if call.rng.random() < 0.3:  # a barge-in: the caller talks over the agent
            words = text.split()
            cut = call.rng.randint(6, max(7, len(words) - 3))
            call.agent(" ".join(words[:cut]) + " —")
            call.user(call.pick(["Sorry, sorry, go ahead.", "Oh, sorry — I thought you were "
                                 "done, go on.", "Wait, um — sorry, keep going."]))
            call.agent("No problem. " + text)
        else:
            call.agent(text)
        call.user(call.pick(ACKS))
        if call.rng.random() < 0.3:
            call.user(call.pick(REPEAT_ASK))
            call.agent("Of course. " + text)
            call.user(call.pick(["Okay, got it, thanks.", "Okay, yeah, that makes sense.",
                                 "Mm-hmm, okay."]))
    elif kind < 0.75:
        start = call.rng.randrange(0, len(SMALL_TALK) - 1, 2)
        for role, text in SMALL_TALK[start:start + 2]:
            call.say(role, text)
    else:
        call.user(call.pick(REPEAT_ASK))
        call.agent(call.pick(["I said I'm just checking your account details now.",
                              "I was just saying I'm going to look into this for you.",
                              "Sorry about that, I said I'm still reviewing what happened."]))
        call.user(call.pick(ACKS))


def identify(call: Call, first: str, last: str) -> None:
    call.agent("Can I start with your first and last name, please?")
    spelled = " ".join(last.upper())
    call.user(f"Yeah, um, it's {first} {last}. That's {spelled}.",
              ("name", f"{first} {last}"), ("spelled", spelled))
    call.agent(f"Thank you, {first}. Let me just confirm, that's {last}, {spelled}?")
    call.user(call.pick(["Yep, that's it.", "Yes.", "Uh-huh, that's right."]))


def give_number(call: Call, label: str, number: str, kind: str = "identifier") -> None:
    call.agent(f"And could you read me your {label}?")
    spoken = digits_words(number)
    call.user(call.pick([f"Sure, um, it's {spoken}.", f"Okay, hold on, let me find it... "
                         f"okay, it's {spoken}.", f"Yeah it's, uh, {spoken}."]),
              (kind, spoken))
    call.agent(f"So that's {spoken}?")
    call.user(call.pick(["Yes.", "That's right.", "Yep."]))


# -- scenarios -----------------------------------------------------------------------------------
def internet(call: Call) -> Scenario:
    r = call.rng
    first, last = r.choice(FIRST), r.choice(LAST)
    account = str(r.randint(10_000_000, 99_999_999))
    house, street = str(r.randint(12, 980)), r.choice(STREETS)
    days = r.sample(WEEKDAYS, 2)
    wrong_day, day = days
    call.agent("Thank you for calling Northwind Broadband, this is Sam. How can I help you?")
    call.user("Hi, um, yeah, my internet has been, uh, dropping out every like twenty minutes "
              "since Sunday and it's making it impossible to work from home.",
              ("task", "dropping out"))
    identify(call, first, last)
    give_number(call, "account number", account)
    call.agent("And what's the service address on the account?")
    spoken_house = digits_words(house)
    call.user(f"It's {spoken_house} {street}.", ("address", f"{spoken_house} {street}"))
    return [
        "So what I'm going to do first is run a line test from our side, which checks the "
        "signal levels between your modem and our network, and if anything looks off I'll "
        "be able to see it here on my screen.",
        "Can you look at the front of your modem for me? There should be a row of lights, "
        "and I'm mainly interested in the one that's labelled online or internet, whether "
        "it's solid white, blinking, or orange.",
        "Okay, so what I'd like you to do is unplug the power cable from the back of the "
        "modem, wait about thirty seconds, and then plug it back in. It can take a couple "
        "of minutes for all the lights to come back.",
        "Sometimes these drops are caused by interference from the neighbours' wifi, "
        "especially in apartment buildings, so switching channels can help, but from what "
        "I'm seeing here that's probably not what's going on in your case.",
        "Our technicians can check the wiring outside the house as well as inside, and if "
        "the problem is with our equipment there's no charge for the visit.",
    ], [
        ("user", "The light on the modem is blinking orange, is that bad?"),
        ("assistant", "Blinking orange means it's lost the connection to our network, so "
                      "that matches what you're describing."),
        ("assistant", "I'm seeing a lot of signal errors on your line, so I'd like to send a "
                      "technician out to take a look."),
        ("user", f"Okay, can they come on {wrong_day}? No wait, I mean {day}, I'm working "
                 f"from the office on {wrong_day}.", ("date", day), ("superseded", wrong_day)),
        ("assistant", f"I've booked a technician for {day} between eight a m and noon, and "
                      "they'll call you about thirty minutes before they arrive.",
         ("commitment", "technician"), ("time", "eight a m")),
        ("user", "Will I get a credit for the days it wasn't working?",
         ("open_question", "credit for the days")),
        ("assistant", "That's something billing has to approve, so I've put in a request and "
                      "they'll get back to you within two business days.",
         ("commitment", "two business days")),
    ]


def dentist(call: Call) -> Scenario:
    r = call.rng
    first, last = r.choice(FIRST), r.choice(LAST)
    month = r.choice(MONTHS)
    d1, d2 = r.sample(range(3, 28), 2)
    hour = r.choice([8, 9, 10, 11, 14, 15, 16])
    dob_year = r.randint(1950, 2002)
    call.agent("Good morning, Riverside Dental, this is Jordan speaking.")
    call.user("Hi, um, I need to reschedule my cleaning, I've got a, uh, a work trip that "
              "came up.", ("task", "reschedule my cleaning"))
    identify(call, first, last)
    call.agent("And your date of birth?")
    dob = f"{month} {ordinal(d1)}, nineteen {under_100(dob_year % 100)}" if dob_year < 2000 \
        else f"{month} {ordinal(d1)}, two thousand {under_100(dob_year % 100)}"
    call.user(f"{dob}.", ("date", dob))
    return [
        "We do ask for twenty four hours notice for cancellations, but since you're calling "
        "ahead that's not a problem at all, there won't be any fee.",
        "Just so you know, Doctor Patel is only in on certain days now, so the calendar is "
        "a little tighter than it used to be, but we'll find something that works.",
        "When you come in, please bring your insurance card, because we need to scan a new "
        "copy for the file at the start of every year.",
        "The cleaning itself usually takes about forty five minutes, and if the hygienist "
        "thinks you need X rays she'll mention it at the start.",
    ], [
        ("assistant", "I have openings later this month. What days are best for you?"),
        ("user", f"Um, mornings are better, like, before work. Could we do the "
                 f"{ordinal(d2)}? Actually, no, make that the {ordinal(d2 + 1)}.",
         ("date", ordinal(d2 + 1)), ("superseded_date", ordinal(d2))),
        ("assistant", f"I can do {month} {ordinal(d2 + 1)} at {time_words(hour, 0)} with "
                      "Doctor Patel.", ("time", time_words(hour, 0))),
        ("user", "Perfect, that works, let's do that."),
        ("assistant", "Great, you're all set. I'll send a text reminder the day before.",
         ("commitment", "text reminder")),
        ("user", "Oh, and, um, does my insurance cover the fluoride thing or is that extra?",
         ("open_question", "fluoride")),
        ("assistant", "I'm not sure offhand, I'll have the billing coordinator call you back "
                      "about the fluoride coverage.", ("commitment", "call you back")),
    ]


def billing(call: Call) -> Scenario:
    r = call.rng
    first, last = r.choice(FIRST), r.choice(LAST)
    account = str(r.randint(100_000, 999_999))
    normal, charged = r.randint(40, 90), r.randint(150, 400)
    cents = r.choice([0, 15, 37, 49, 80])
    month = r.choice(MONTHS)
    call.agent("Thanks for calling Metro Power and Light, my name is Chris, who am I "
               "speaking with?")
    call.user(f"Hi, this is {first} {last}. I'm calling about my bill, it's, um, way higher "
              "than it should be.", ("name", f"{first} {last}"), ("task", "bill"))
    give_number(call, "account number", account)
    call.agent("What's the email address on the account?")
    email = f"{first.lower()} dot {last.lower()} at gmail dot com"
    call.user(f"It's {email}.", ("email", email))
    return [
        "So the way our billing works is we read the meter once a month, and if we can't "
        "get a reading for some reason the system estimates based on your past usage.",
        "I'm looking at your usage history now, and it's been pretty steady for most of the "
        "year, so a jump like this is definitely unusual.",
        "If a bill is disputed we put a hold on that amount, so it won't count as late and "
        "there won't be any late fees while we look into it.",
        "Sometimes a new appliance, like a space heater or a dryer, can really push the "
        "usage up, especially in the colder months.",
    ], [
        ("user", f"Normally I pay like {amount_words(normal, 0)}, and this month it's "
                 f"{amount_words(charged, cents)}.",
         ("money", amount_words(normal, 0)), ("money", amount_words(charged, cents))),
        ("assistant", f"I see the {month} reading was estimated, not actually read, so that's "
                      "likely where the problem is.", ("date", month)),
        ("user", "So what happens now? I'm not paying that."),
        ("assistant", "I've put the disputed amount on hold and requested a meter reader "
                      "visit, and you'll get a corrected bill once they've been out.",
         ("commitment", "meter reader")),
        ("user", "Will the autopay still take the full amount on Friday?",
         ("open_question", "autopay")),
        ("assistant", "I'll turn autopay off for this cycle so nothing comes out until the "
                      "corrected bill is ready.", ("commitment", "autopay off")),
    ]


def pharmacy(call: Call) -> Scenario:
    r = call.rng
    first, last = r.choice(FIRST), r.choice(LAST)
    rx = str(r.randint(1_000_000, 9_999_999))
    day = r.choice(WEEKDAYS)
    hour = r.choice([10, 11, 13, 15, 16, 17])
    call.agent("Greenleaf Pharmacy, this is Taylor, how can I help you?")
    call.user("Hi, yeah, I'm trying to refill my, um, my blood pressure medication, the app "
              "keeps giving me an error.", ("task", "refill"))
    identify(call, first, last)
    give_number(call, "prescription number, it's on the label", rx)
    return [
        "The app has been having some trouble with refills that need a new authorization "
        "from the doctor, that's usually what that error means.",
        "When a prescription runs out of refills we send a request to the doctor's office, "
        "and they usually respond within one or two business days.",
        "If you'd like, you can also sign up for automatic refills, so we start filling it "
        "a few days before you run out and text you when it's ready.",
        "Just so you know, the pharmacy closes early on Sundays, so if you're coming in on "
        "the weekend it's best to come before four.",
    ], [
        ("assistant", "It looks like you're out of refills, so I need to contact Doctor "
                      "Alvarez's office for a new prescription.", ("name", "Alvarez")),
        ("user", "Oh no, I've only got like three pills left.", ("number", "three pills")),
        ("assistant", "I can give you an emergency supply of five days so you don't run out.",
         ("commitment", "emergency supply")),
        ("user", f"Okay, I can pick it up {day} around {time_words(hour, 0)}.",
         ("date", day), ("time", time_words(hour, 0))),
        ("user", "Is the generic one the same as what I had before?",
         ("open_question", "generic")),
        ("assistant", "I'll ask the pharmacist to check and call you back before you come in.",
         ("commitment", "pharmacist")),
    ]


def airline(call: Call) -> Scenario:
    r = call.rng
    first, last = r.choice(FIRST), r.choice(LAST)
    letters = "".join(r.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(3))
    code = f"{letters[0]} {letters[1]} {_DIGITS[r.randint(2, 9)]} {letters[2]}"
    flight = str(r.randint(100, 2999))
    month = r.choice(MONTHS)
    day = r.randint(3, 27)
    call.agent("Thank you for calling Skyward Airlines, my name is Morgan.")
    call.user("Hi, um, my flight got cancelled and I need to get on another one, I have a "
              "wedding to get to.", ("task", "flight got cancelled"))
    call.agent("I'm so sorry about that. Do you have your confirmation code?")
    call.user(f"Yeah, it's, um, {code}.", ("identifier", code))
    call.agent("Thank you. And the name on the booking?")
    call.user(f"{first} {last}.", ("name", f"{first} {last}"))
    return [
        "When a flight is cancelled on our side you're entitled to rebooking at no extra "
        "cost, or a full refund to the original form of payment if you'd rather not travel.",
        "Flights are pretty full this week because of the holiday, so I'm checking our "
        "partner airlines as well to see if there's anything sooner.",
        "Your checked bag allowance stays the same on the new flight, so there's nothing "
        "extra to pay for bags.",
        "I'm going to hold a seat while we talk, it'll stay held for about twenty minutes.",
    ], [
        ("assistant", f"I can get you on flight {digits_words(flight)} on {month} "
                      f"{ordinal(day)}, departing at {time_words(r.choice([7, 9, 13, 18]), 15)}.",
         ("number", digits_words(flight)), ("date", f"{month} {ordinal(day)}")),
        ("user", "I really need an aisle seat, my knee is bad.", ("preference", "aisle seat")),
        ("assistant", "I've moved you to an aisle seat, seat twelve C, and re-issued the "
                      "ticket; the confirmation code stays the same.",
         ("commitment", "re-issued the ticket"), ("identifier", "twelve C")),
        ("user", "Can I get a meal voucher for the airport since I'm stuck here?",
         ("open_question", "meal voucher")),
        ("assistant", "I'll email you a meal voucher for fifteen dollars.",
         ("money", "fifteen dollars")),
    ]


def insurance(call: Call) -> Scenario:
    r = call.rng
    first, last = r.choice(FIRST), r.choice(LAST)
    policy = str(r.randint(10_000_000, 99_999_999))
    month, day = r.choice(MONTHS), r.randint(2, 27)
    street = r.choice(STREETS)
    call.agent("Hi, you've reached Harbor Mutual claims, this is Alex. Are you safe and is "
               "everyone okay?")
    call.user("Yeah, yeah, everyone's fine. I was in a, um, a fender bender and I need to "
              "file a claim.", ("task", "file a claim"))
    identify(call, first, last)
    give_number(call, "policy number", policy)
    return [
        "I'm going to ask you a few questions about what happened, and it's okay if you "
        "don't know every detail, we can always add to the claim later.",
        "Once the claim is open an adjuster is assigned, and they'll usually reach out "
        "within two business days to look at the damage.",
        "Your policy includes rental coverage, so if the car isn't drivable we can set up a "
        "rental while it's being repaired.",
        "If you have photos of the damage or the other car, you can upload them in the app "
        "and they'll be attached to the claim automatically.",
    ], [
        ("user", f"It happened on {month} {ordinal(day)}, at the corner of {street} and "
                 "Fifth, the other driver ran the stop sign.",
         ("date", f"{month} {ordinal(day)}"), ("address", street)),
        ("user", "The other driver's insurance is with Lakeside, I got a picture of the card.",
         ("name", "Lakeside")),
        ("assistant", "I've opened the claim and an adjuster named Rivera will call you.",
         ("commitment", "adjuster"), ("name", "Rivera")),
        ("user", "My deductible is five hundred, right? Do I have to pay that if it wasn't my "
                 "fault?", ("open_question", "deductible"), ("money", "five hundred")),
        ("assistant", "If the other insurer accepts fault, we'll recover the deductible from "
                      "them and refund it to you.", ("commitment", "refund it")),
    ]


def grooming(call: Call) -> Scenario:
    r = call.rng
    first, last = r.choice(FIRST), r.choice(LAST)
    pet = r.choice(PETS)
    days = r.sample(WEEKDAYS, 2)
    hour = r.choice([9, 10, 11])
    price = r.choice([55, 65, 75, 85])
    call.agent("Happy Paws grooming, this is Riley!")
    call.user(f"Hi, um, I'd like to book a grooming for my dog, {pet}.",
              ("name", pet), ("task", "grooming"))
    identify(call, first, last)
    call.agent("What's the best phone number to reach you?")
    phone = digits_words(f"555{r.randint(1000, 9999)}")
    call.user(f"It's {phone}.", ("number", phone))
    return [
        "Our full groom includes a bath, a haircut, nail trimming, and ear cleaning, and for "
        "bigger dogs it usually takes about two hours.",
        "We ask that dogs are up to date on their rabies vaccine, so if you could bring the "
        "paperwork on the first visit that would be great.",
        "We use a gentle oatmeal shampoo by default, but if your dog has sensitive skin we "
        "have a hypoallergenic one too.",
        "Pickup is usually about two hours after drop off, and we'll text you when your dog "
        "is ready to go home.",
    ], [
        ("user", f"{pet} gets really anxious around other dogs, so, um, a quiet time would "
                 "be best.", ("preference", "anxious around other dogs")),
        ("user", f"Can we do {days[0]}? Sorry, I mean {days[1]}, {days[0]} I have a thing.",
         ("date", days[1]), ("superseded", days[0])),
        ("assistant", f"I've booked {pet} for {days[1]} at {time_words(hour, 0)}, first "
                      "appointment of the day, so it'll be quiet.",
         ("commitment", "booked"), ("time", time_words(hour, 0))),
        ("assistant", f"The full groom for a medium dog is {amount_words(price, 0)}.",
         ("money", amount_words(price, 0))),
        ("user", "Do you do teeth cleaning as well?", ("open_question", "teeth cleaning")),
    ]


def bank(call: Call) -> Scenario:
    r = call.rng
    first, last = r.choice(FIRST), r.choice(LAST)
    last4 = str(r.randint(1000, 9999))
    house = str(r.randint(10, 99))
    street = r.choice(STREETS)
    amount = r.randint(60, 300)
    call.agent("Thank you for calling Keystone Bank, this is Jamie, how can I help?")
    call.user("Hi, I think I lost my debit card, um, I had it yesterday and now I can't find "
              "it anywhere.", ("task", "lost my debit card"))
    identify(call, first, last)
    call.agent("Can you give me the last four digits of the card?")
    call.user(f"Um, {digits_words(last4)}.", ("identifier", digits_words(last4)))
    return [
        "For your security I'm going to ask a couple of verification questions before we "
        "make any changes to the account.",
        "Once a card is blocked it can't be unblocked, so if you do find it later just cut "
        "it up, the new one will have a different number.",
        "Any recurring payments on the old card, like streaming services, will need to be "
        "updated with the new card number once it arrives.",
        "You can also add the new card to your phone's wallet as soon as it's issued, even "
        "before the physical card arrives.",
    ], [
        ("assistant", "I've blocked the card, so nobody can use it from now on.",
         ("commitment", "blocked the card")),
        ("user", f"There's a charge for {amount_words(amount, 0)} at a gas station that "
                 "wasn't me.", ("money", amount_words(amount, 0))),
        ("assistant", "I've opened a dispute for that charge; you'll get a provisional credit "
                      "within ten business days.", ("commitment", "dispute")),
        ("user", f"Can you send the new card to {digits_words(house)} {street}? I moved.",
         ("address", f"{digits_words(house)} {street}")),
        ("user", "Will the new card work overseas? I'm travelling next month.",
         ("open_question", "overseas")),
    ]


def catering(call: Call) -> Scenario:
    r = call.rng
    first, last = r.choice(FIRST), r.choice(LAST)
    month, day = r.choice(MONTHS), r.randint(3, 27)
    guests, fixed = r.sample(range(25, 90), 2)
    call.agent("Bella Cucina catering, this is Sofia speaking.")
    call.user("Hi, um, I'm planning my mom's retirement party and I wanted to ask about "
              "catering.", ("task", "retirement party"))
    identify(call, first, last)
    return [
        "Our most popular package is the family style dinner, which comes with two pastas, "
        "a salad, bread, and a choice of chicken or eggplant.",
        "We need the final headcount a week before the event, but it can go up or down a "
        "little after that.",
        "Delivery and setup are included within ten miles, and we come back to pick up the "
        "trays the next day.",
        "For dessert we can do tiramisu or cannoli, and some people like to add a cake from "
        "the bakery next door.",
    ], [
        ("user", f"It's on {month} {ordinal(day)}, for about {under_100(guests)} people, no "
                 f"wait, it's {under_100(fixed)}, my sister invited more.",
         ("date", f"{month} {ordinal(day)}"), ("number", under_100(fixed)),
         ("superseded", under_100(guests))),
        ("user", "Three of the guests are vegan and one has a nut allergy.",
         ("preference", "nut allergy")),
        ("assistant", "I'll mark the order nut free and add a vegan lasagna.",
         ("commitment", "vegan lasagna")),
        ("user", "The party is at the Elks Lodge on Route nine.", ("address", "Elks Lodge")),
        ("user", "Do you need a deposit to hold the date?", ("open_question", "deposit")),
        ("assistant", "I'll email you the quote tonight with the deposit amount.",
         ("commitment", "email you the quote")),
    ]


def maintenance(call: Call) -> Scenario:
    r = call.rng
    first, last = r.choice(FIRST), r.choice(LAST)
    unit = f"{r.randint(1, 9)}{r.choice('ABCD')}"
    hour = r.choice([9, 10, 13, 14])
    day = r.choice(WEEKDAYS)
    call.agent("Oakridge Apartments maintenance line, this is Pat.")
    call.user("Hi, um, my kitchen sink is leaking under the cabinet and there's, like, water "
              "all over the floor.", ("task", "sink is leaking"))
    identify(call, first, last)
    call.agent("And which unit are you in?")
    call.user(f"Unit {unit}.", ("identifier", f"unit {unit}"))
    return [
        "If water is actively coming out, the first thing to do is turn the shut off valve "
        "under the sink clockwise until it stops, that'll hold it until we get there.",
        "Our maintenance team is out on other calls this morning, but leaks are treated as "
        "a priority so you'll be near the top of the list.",
        "Please move anything you don't want to get wet out from under the sink, and put a "
        "towel down if you can.",
        "If there's any damage to the cabinet we'll take photos and put in a separate work "
        "order for that.",
    ], [
        ("user", "I have a cat, so whoever comes please don't let her out.",
         ("preference", "don't let her out")),
        ("assistant", f"The plumber can come {day} at {time_words(hour, 0)}.",
         ("date", day), ("time", time_words(hour, 0))),
        ("user", "I won't be home then, can they use the key?", ("preference", "use the key")),
        ("assistant", "Yes, I've noted permission to enter and the note about the cat on the "
                      "work order.", ("commitment", "permission to enter")),
        ("user", "Will I be charged for this?", ("open_question", "charged")),
    ]


SCENARIOS: dict[str, Callable[[Call], Scenario]] = {
    "internet_outage": internet, "dentist_reschedule": dentist, "billing_dispute": billing,
    "pharmacy_refill": pharmacy, "airline_rebooking": airline, "insurance_claim": insurance,
    "dog_grooming": grooming, "lost_card": bank, "catering_order": catering,
    "apartment_repair": maintenance,
}


def build_call(call_id: str, scenario: str, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    call = Call(call_id, scenario, rng)
    explanations, beats = SCENARIOS[scenario](call)
    target_s = rng.uniform(10, 25) * 60
    # The key beats are spread over the call; filler fills the gaps between them.
    slots = sorted(rng.uniform(0.05, 0.8) * target_s for _ in beats)
    for beat, when in zip(beats, slots, strict=True):
        while call.clock < when:
            filler_beat(call, explanations)
        role, text, *keys = beat
        superseded = [value for kind, value in keys if kind.startswith("superseded")]
        said = tuple((kind, value) for kind, value in keys if not kind.startswith("superseded"))
        for value in superseded:
            call.superseded.append({"text": value, "at_s": round(call.clock, 1)})
        call.say(role, text, keys=said)
        if role == "assistant":
            call.user(call.pick(ACKS))
    while call.clock < target_s:
        filler_beat(call, explanations)
    for role, text in CLOSING:
        call.say(role, text)
    return call.as_dict()


def build_set(calls_per_scenario: int = 4) -> list[dict[str, Any]]:
    calls = []
    for index, scenario in enumerate(SCENARIOS):
        for variant in range(calls_per_scenario):
            calls.append(build_call(f"{scenario}-{variant + 1}", scenario,
                                    seed=1000 * index + variant))
    return calls


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("compaction_calls.json")
    calls = build_set()
    out.write_text(json.dumps({"calls": calls}, indent=1) + "\n")
    minutes = [c["duration_s"] / 60 for c in calls]
    print(f"wrote {len(calls)} calls ({min(minutes):.1f}-{max(minutes):.1f} min) to {out}")


if __name__ == "__main__":
    main()
