"""Rules for what the caller owns and where they are: vehicles, devices, addresses, ids.

These read the caller's words after spoken numbers became digits ("a 2016 honda civic",
"delivery to 42 oak lane", "ticket 33086") and, for identifiers, the agent's question
("And the account number?") that makes a bare run of digits an account number.
"""

from __future__ import annotations

import re

from ._rules_common import TurnView
from ._select import Candidate

__all__ = ["THING_RULES"]

# --- vehicles and devices ----------------------------------------------------------------

_MAKES = {
    "honda": "Honda", "toyota": "Toyota", "ford": "Ford", "tesla": "Tesla", "kia": "Kia",
    "subaru": "Subaru", "vw": "VW", "volkswagen": "Volkswagen", "bmw": "BMW", "audi": "Audi",
    "mercedes": "Mercedes", "nissan": "Nissan", "hyundai": "Hyundai", "chevy": "Chevy",
    "chevrolet": "Chevrolet", "jeep": "Jeep", "mazda": "Mazda", "volvo": "Volvo",
    "land rover": "Land Rover", "range rover": "Range Rover", "lexus": "Lexus",
    "dodge": "Dodge", "ram": "Ram", "gmc": "GMC", "mini": "Mini", "fiat": "Fiat",
    "peugeot": "Peugeot", "renault": "Renault", "skoda": "Skoda", "vauxhall": "Vauxhall",
    "citroen": "Citroen", "mitsubishi": "Mitsubishi", "porsche": "Porsche", "trek": "Trek",
    "harley": "Harley", "yamaha": "Yamaha", "rivian": "Rivian", "polestar": "Polestar",
    "kawasaki": "Kawasaki", "ducati": "Ducati", "suzuki": "Suzuki", "triumph": "Triumph",
    "ktm": "KTM", "vespa": "Vespa", "jaguar": "Jaguar", "dacia": "Dacia", "cupra": "Cupra",
    "seat": "SEAT", "mg": "MG", "byd": "BYD", "acura": "Acura", "infiniti": "Infiniti",
    "cadillac": "Cadillac", "buick": "Buick", "lincoln": "Lincoln", "chrysler": "Chrysler",
    "alfa romeo": "Alfa Romeo", "genesis": "Genesis", "smart": "Smart", "opel": "Opel",
}
_MODELS = {
    "civic": "Civic", "accord": "Accord", "cr-v": "CR-V", "crv": "CR-V", "pilot": "Pilot",
    "odyssey": "Odyssey", "corolla": "Corolla", "camry": "Camry", "rav4": "RAV4",
    "prius": "Prius", "rav 4": "RAV4", "highlander": "Highlander", "tacoma": "Tacoma",
    "tundra": "Tundra",
    "f150": "F-150", "f-150": "F-150", "f250": "F-250", "transit": "Transit",
    "focus": "Focus", "fiesta": "Fiesta", "mustang": "Mustang", "explorer": "Explorer",
    "escape": "Escape", "model 3": "Model 3", "model y": "Model Y", "model s": "Model S",
    "model x": "Model X", "sportage": "Sportage", "sorento": "Sorento", "soul": "Soul",
    "outback": "Outback", "forester": "Forester", "impreza": "Impreza", "golf": "Golf",
    "polo": "Polo", "passat": "Passat", "jetta": "Jetta", "tiguan": "Tiguan",
    "defender": "Defender", "discovery": "Discovery", "qashqai": "Qashqai",
    "leaf": "Leaf", "altima": "Altima", "rogue": "Rogue", "tucson": "Tucson",
    "elantra": "Elantra", "santa fe": "Santa Fe", "silverado": "Silverado",
    "wrangler": "Wrangler", "cherokee": "Cherokee", "cx-5": "CX-5", "cx5": "CX-5",
    "xc90": "XC90", "xc60": "XC60", "corsa": "Corsa", "astra": "Astra", "octavia": "Octavia",
    "clio": "Clio", "yaris": "Yaris", "sienna": "Sienna", "domane": "Domane",
    "prius prime": "Prius Prime", "ioniq": "Ioniq", "kona": "Kona",
    # Everyday words ("note", "partner", "up", "jazz") are left out: a make names those
    # models (_MAKE_NEW_MODEL), a model alone would be read in any sentence.
    "a3": "A3", "a4": "A4", "a5": "A5", "a6": "A6", "q3": "Q3", "q5": "Q5", "q7": "Q7",
    "3 series": "3 Series", "5 series": "5 Series", "x3": "X3", "x5": "X5",
    "c class": "C-Class", "c-class": "C-Class", "e class": "E-Class", "e-class": "E-Class",
    "picanto": "Picanto", "niro": "Niro", "ceed": "Ceed", "micra": "Micra",
    "hr-v": "HR-V", "aygo": "Aygo", "c-hr": "C-HR",
    "fabia": "Fabia", "kodiaq": "Kodiaq", "karoq": "Karoq",
    "insignia": "Insignia", "mokka": "Mokka", "vivaro": "Vivaro", "zafira": "Zafira",
    "kuga": "Kuga", "tourneo": "Tourneo",
    "t-roc": "T-Roc", "touran": "Touran", "id.3": "ID.3", "id3": "ID.3",
    "berlingo": "Berlingo", "megane": "Megane", "captur": "Captur",
    "sandero": "Sandero", "vitara": "Vitara",
    "cx-3": "CX-3", "cx3": "CX-3", "mx-5": "MX-5", "mx5": "MX-5", "outlander": "Outlander",
    "evoque": "Evoque", "velar": "Velar", "xc40": "XC40", "v40": "V40", "bonneville": "Bonneville",
    "brompton": "Brompton", "model 3 performance": "Model 3 Performance",
}
# Models only one maker sells, so the make can be added when the caller leaves it out.
_MAKE_OF = {"model 3": "Tesla", "model y": "Tesla", "model s": "Tesla", "model x": "Tesla",
            "f150": "Ford", "f-150": "Ford", "rav4": "Toyota", "rav 4": "Toyota",
            "corolla": "Toyota", "camry": "Toyota", "civic": "Honda", "sportage": "Kia",
            "outback": "Subaru", "qashqai": "Nissan", "wrangler": "Jeep"}
_UNIT = re.compile(r"\b(?:i'm|i\s+am|we're|i\s+live|we\s+live)\s+in\s+(?P<kind>unit|flat|"
                   r"apartment|apt|suite)\s+(?P<unit>\d+\s?[a-z]?)\b", re.IGNORECASE)
_VEHICLE = re.compile(
    r"\b(?:(?P<year>(?:19|20)\d\d)\s+)?(?:(?P<colour>white|black|silver|grey|gray|red|blue|"
    r"green|yellow|orange|brown|gold|beige)\s+)?(?P<make>"
    + "|".join(sorted(_MAKES, key=len, reverse=True)) + r")?\s*(?P<model>"
    + "|".join(re.escape(m) for m in sorted(_MODELS, key=len, reverse=True)) + r")\b",
    re.IGNORECASE)
# A maker the list knows followed by a model it does not: "a 2020 honda jazz", "i drive a
# kia niro". The year or an owning verb before it says this is the caller's vehicle.
_MAKE_NEW_MODEL = re.compile(
    r"\b(?:(?P<year>(?:19|20)\d\d)|(?:drive|drives|ride|rides|have|got|own|it's|its|it\s+is|"
    r"(?:car|bike|van|truck|motorbike|motorcycle|scooter)(?:'s|\s+is))\s+an?|"
    # "a black range rover sport": a colour before a maker describes a vehicle.
    r"an?(?=\s+(?:white|black|silver|grey|gray|red|blue|green|yellow|orange|brown|gold|beige)\s))"
    r"\s+(?:(?P<colour>white|black|silver|grey|gray|red|blue|green|yellow|orange|brown|gold|"
    r"beige)\s+)?(?P<make>" + "|".join(sorted(_MAKES, key=len, reverse=True)) + r")\s+"
    r"(?P<model>[a-z][a-z0-9-]{1,12}(?:\s+\d{1,3}\b)?)", re.IGNORECASE)
_NOT_A_MODEL = frozenset({"and", "but", "so", "that", "with", "which", "car", "truck", "van",
                          "suv", "it", "is", "has", "needs", "from", "in", "on", "i", "we",
                          "road", "mountain", "electric", "hybrid", "racing", "touring",
                          "bike", "motorbike", "scooter"})
_OWNERSHIP = re.compile(
    r"\b(?:it's|its|it\s+is|my|our|the|a|an|drive|have|got|on|for|we\s+have|i\s+have)\s+"
    r"(?:(?:work|old|new|company|wife's|husband's|son's|daughter's)\s+)?"
    r"(?:(?:a|the)\s+)?$", re.IGNORECASE)
_PLATE = re.compile(
    r"\b(?:plate|reg|registration|number\s+plate|plate\s+number)\s+(?:number\s+)?(?:is|'s)?\s*"
    r"(?:uh\s+|um\s+)?(?P<plate>(?=[a-z0-9]*\d)[a-z0-9]{4,8})\b", re.IGNORECASE)
_DEVICES = {"mac": "a Mac", "macbook": "a MacBook", "thinkpad": "a ThinkPad",
            "chromebook": "a Chromebook", "iphone": "an iPhone", "android": "an Android phone",
            "windows": "Windows", "linux": "Linux", "ipad": "an iPad"}
_DEVICE = re.compile(
    r"\b(?:i'm|i\s+am|i\s+use|we\s+use|i've\s+got|i\s+have|it's|its|my)\s+(?:on\s+)?"
    r"(?:a|an|the)?\s*"
    r"(?:company\s+|work\s+|old\s+|new\s+)?(?P<dev>" + "|".join(_DEVICES) + r")\b"
    r"(?:\s+(?P<model>\d{1,2}|pro|air|mini|max|plus))?",
    re.IGNORECASE)


# Models that are also everyday words.
_EVERYDAY_MODELS = frozenset({"golf", "focus", "escape", "soul", "leaf", "transit", "pilot",
                              "discovery", "explorer", "defender", "polo"})
# After such a model without a make or a year, a word that is not a closed-class word, a
# verb of state or a trim makes it part of a compound noun ("leaf blower", "golf clubs",
# "transit card", "pilot light"). Listing what may follow a car (a closed set) rather than
# the compounds (an open one) is what generalises.
_NOUN_AFTER = re.compile(
    r"\s+(?!(?:is|was|has|had|isn't|wasn't|won't|doesn't|didn't|keeps|needs|needed|broke|"
    r"and|but|or|so|because|cause|with|for|from|at|in|on|to|into|that|which|it|its|it's|"
    r"again|too|as|if|when|i|we|he|she|they|you|the|a|an|my|our|please|yeah|ok|okay|"
    r"thanks|then|now|there|here|today|yesterday|tomorrow|last|this|next|hatchback|"
    r"estate|saloon|hybrid|electric|diesel|petrol|gti|tdi|st|se|sport|plus|e|van|car|reg|"
    r"registration|plate|minibus|pickup|custom|connect)\b)[a-z]{2,}\b",
    re.IGNORECASE)


def vehicles(t: TurnView) -> list[Candidate]:
    """"its a 2016 honda civic silver", "plate is 7xrt219", "i'm on a mac"."""
    out: list[Candidate] = []
    low = t.user.lower()
    # The model names are few and distinctive: look for one before running the pattern.
    vehicle_said = any(model in low for model in _MODELS)
    for m in _VEHICLE.finditer(t.user) if vehicle_said else ():
        model = m.group("model").lower()
        make = (m.group("make") or "").lower()
        # Without a make the match starts at the space before the model: skip it, or
        # "i drive a" (no trailing space) fails the ownership test.
        start = m.start() + len(m.group(0)) - len(m.group(0).lstrip())
        before = t.user[max(0, start - 30):start]
        if not (make or m.group("year") or _OWNERSHIP.search(before) or re.search(
                r"\b(?:my|our|its|it's|the)\b[\w' ]{0,20}$", before, re.IGNORECASE)):
            continue
        if model in _EVERYDAY_MODELS and not (
                make or m.group("year") or re.search(r"\b(?:the|a|my|our)\s+(?:\w+\s+)?$",
                                                     before, re.IGNORECASE)):
            continue  # everyday words unless they clearly name a car
        said_as_car = make or m.group("year") or m.group("colour")
        if model in _EVERYDAY_MODELS and not said_as_car and _NOUN_AFTER.match(t.user, m.end()):
            continue  # "my leaf blower", "the golf clubs": the word names another thing
        parts = [m.group("year"), (m.group("colour") or "").lower() or None,
                 _MAKES.get(make) or _MAKE_OF.get(model), _MODELS[model]]
        text = "Vehicle: " + " ".join(p for p in parts if p)
        out.append(t.candidate(text, "note", None, 0.75, m.start()))
    for m in _MAKE_NEW_MODEL.finditer(t.user):
        model = m.group("model").lower()
        if model in _MODELS or model.split()[0] in _NOT_A_MODEL:
            continue  # a known model is read by the pattern above
        parts = [m.group("year"), (m.group("colour") or "").lower() or None,
                 _MAKES[m.group("make").lower()], model.title()]
        out.append(t.candidate("Vehicle: " + " ".join(p for p in parts if p), "note", None,
                               0.7, m.start()))
    for m in _PLATE.finditer(t.user):
        out.append(t.candidate(f"Vehicle registration is {m.group('plate').upper()}", "note",
                               None, 0.7, m.start()))
    for m in _UNIT.finditer(t.user):
        unit = m.group("unit").replace(" ", "").upper()
        out.append(t.candidate(f"Lives in {m.group('kind').lower()} {unit}", "contact", None,
                               0.7, m.start()))
    for m in _DEVICE.finditer(t.user):
        model = f" {m.group('model')}" if m.group("model") else ""
        out.append(t.candidate(f"Uses {_DEVICES[m.group('dev').lower()]}{model}", "note", None,
                               0.65, m.start()))
    return out


# --- addresses in speech -----------------------------------------------------------------

_STREET_WORD = (r"(?:street|st|avenue|ave|road|rd|lane|ln|drive|dr|boulevard|blvd|way|court|"
                r"ct|place|pl|terrace|close|crescent|parkway|grove|gardens|mews|row|hill|walk|"
                r"circle|square|highway|gate|park|green|rise|view|parade|wharf|wynd|brae|"
                r"chase|vale|heights|meadows|fields|end|side|bank)")
_ADDRESS = re.compile(
    rf"\b(?:(?:flat|apartment|apt|unit)\s+(?P<flat1>\w+)\s+)?(?P<num>\d{{1,5}}[a-z]?)\s+"
    rf"(?P<street>(?:[a-z]+\s+){{1,3}}?{_STREET_WORD})\b"
    rf"(?:\s+(?:flat|apartment|apt|unit|suite|#)\s*(?P<flat2>\w+))?",
    re.IGNORECASE)
# A number and a street word are an address after these, or at the start of a clause
# ("locked out, fourteen hazel close"; "raj. seventeen oak lane").
_ADDRESS_LEAD = re.compile(
    r"\b(?:to|at|is|from|address|it's|its|in|moved|now|live|located|please|sorry|no|"
    r"actually|mean)\s*$|[,.;:]\s*$",
    re.IGNORECASE)
_SOMEONE_ELSES = re.compile(
    r"\b(?:her|his|their|mum's|mom's|dad's|neighbour's|neighbor's|friend's)\s+"
    r"(?:address|place|house)\b|\bleave\s+it\s+with\b", re.IGNORECASE)
_ASKED_ADDRESS = re.compile(r"\b(?:address|pick-?up|postcode|where\s+(?:are\s+you|do\s+you\s+"
                            r"live|should|from|to))\b", re.IGNORECASE)
_BARE_ADDRESS = re.compile(
    r"^\s*(?:(?:it's|its|sure|yes|yeah|ok|it\s+is)[\s,]+)*(?:(?:flat|apartment|apt|unit)\s+"
    r"(?P<flat1>\w+)\s+)?(?P<num>\d{1,5}[a-z]?)\s+(?P<street>[a-z]+(?:\s+[a-z]+){0,2}?)"
    r"(?:\s+(?:flat|apartment|apt|unit)\s+(?P<flat2>\w+))?\s*$", re.IGNORECASE)
_ASKED_OTHERS_ADDRESS = re.compile(r"\b(?:her|his|their)\s+address\b", re.IGNORECASE)


def spoken_addresses(t: TurnView) -> list[Candidate]:
    """"delivery to 42 oak lane", "im at 15 elm road", a bare answer to "the address?"."""
    out: list[Candidate] = []
    if _ASKED_OTHERS_ADDRESS.search(t.prev_agent):
        return out
    asked = bool(_ASKED_ADDRESS.search(t.prev_agent))
    for m in _ADDRESS.finditer(t.user):
        before = t.user[max(0, m.start() - 25):m.start()]
        if _SOMEONE_ELSES.search(t.user[max(0, m.start() - 40):m.start()]):
            continue
        if not (_ADDRESS_LEAD.search(before) or (asked and m.start() < 25)):
            continue
        street = re.sub(r"\s+", " ", m.group("street")).title()
        text = f"Address is {m.group('num')} {street}"
        flat = m.group("flat1") or m.group("flat2")
        if flat:
            text += f", flat {flat}"
        out.append(t.candidate(text, "contact", "address", 0.75, m.start()))
    if asked and not out and (bare := _BARE_ADDRESS.match(t.user)):
        # In answer to "Address?" the whole reply is the address, so a street without a
        # known suffix will do: "112 kingsway flat b", "7 the maltings".
        text = f"Address is {bare.group('num')} {bare.group('street').title()}"
        if bare.group("flat1") or bare.group("flat2"):
            text += f", flat {bare.group('flat1') or bare.group('flat2')}"
        out.append(t.candidate(text, "contact", "address", 0.7, bare.start("num")))
    return out


# --- identifiers asked for ---------------------------------------------------------------

_ID_KINDS = (r"account|order|invoice|ticket|case|claim|reference|confirmation|booking|"
             r"policy|member(?:ship)?|rewards|loyalty|frequent\s+flyer|miles|railcard|"
             r"library\s+card|parcel|tracking|customer|insurance\s+member|member\s+id|"
             r"staff|employee|student|supplier|registration|reg|number\s+plate")
_ASKED_ID = re.compile(rf"\b(?P<kind>{_ID_KINDS})\s*(?:number|no|#|id|code)?\b[^.!]*\?|"
                       rf"\b(?:the|your)\s+(?P<kind2>{_ID_KINDS})\s+(?:number|no|#|id)\b",
                       re.IGNORECASE)
_ID_SAID = re.compile(
    rf"\b(?P<kind>{_ID_KINDS})\s*(?:number|no|num|#|id|code)?\s*(?:is|was|'s|:)?\s*"
    rf"(?:uh\s+|um\s+|like\s+)?(?P<value>(?:[a-z]\s+){{0,3}}(?=[a-z0-9-]*\d)[a-z0-9-]{{3,20}})\b",
    re.IGNORECASE)
_BARE_VALUE = re.compile(
    r"^(?:(?:yes|yeah|yep|sure|ok|okay|so|uh|um|it's|its|it\s+is|that's|yeah\s+it's)[\s,]+)*"
    r"(?P<value>(?=[a-z0-9-]*\d)[a-z0-9-]{3,20})\b", re.IGNORECASE)
_AGENT_OPENED = re.compile(
    rf"\b(?:opened|created|raised|logged|filed|submitted)\s+(?:(?:that|this|it)\s+(?:as|under)\s+)?"
    rf"(?:a\s+|an\s+)?(?:new\s+)?"
    rf"(?P<kind>{_ID_KINDS})\s+(?:number\s+)?(?:[A-Z]{{2,4}}[\s-]?)?(?P<value>\d[\d-]{{2,15}})",
    re.IGNORECASE)
# "Thank you Ms. Kruger, booked for two nights, reference QX2291.": an id the agent issues
# in writing, labelled by the word before it. Capitals and a digit make it an id.
_AGENT_ISSUED = re.compile(
    r"(?:^|[,;:.]\s+|\band\s+)(?:(?i:your|the)\s+)?(?P<kind>(?i:reference|ref|confirmation|"
    r"booking\s+reference|case\s+reference))(?:\s+(?i:number|no\.?|code))?(?:\s+is|:)?\s+"
    r"(?P<value>(?=[A-Z0-9-]*\d)[A-Z0-9][A-Z0-9-]{3,15})\b")
# "Added the Picanto to policy MN44210.", "That's on account 88213."
_AGENT_FILED = re.compile(
    r"\b(?i:to|on|under)\s+(?:(?i:your|the)\s+)?(?P<kind>(?i:policy|account|membership))"
    r"\s+(?:(?i:number)\s+)?(?P<value>(?=[A-Z0-9-]*\d)[A-Z0-9][A-Z0-9-]{3,15})\b")
_PLATE_KINDS = frozenset({"registration", "reg", "number plate"})
_KIND_LABEL = {"frequent flyer": "frequent flyer", "miles": "frequent flyer",
               "member id": "member", "membership": "member", "insurance member": "member"}
_REDACTED = "[redacted"
# The same single-valued slots the written-text identifier rule uses, so both rules
# reading one account number state one fact.
_ID_SLOTS = {"account": "account_number", "member": "member_number",
             "rewards": "loyalty_number", "loyalty": "loyalty_number",
             "customer": "customer_number"}


def _id(t: TurnView, kind: str, value: str, at: int, conf: float) -> Candidate | None:
    kind = re.sub(r"\s+", " ", kind.lower())
    # A plate has as few as one or two digits ("BD64KLM"); other ids at least three.
    digits_needed = 1 if kind in _PLATE_KINDS and len(value) >= 5 else 3
    if _REDACTED in value or sum(c.isdigit() for c in value) < digits_needed:
        return None
    value = value.replace(" ", "")
    label = _KIND_LABEL.get(kind, kind)
    if kind in _PLATE_KINDS:
        # The same wording as the vehicle rule's, so one plate read twice is one fact.
        if not any(c.isalpha() for c in value):
            return None
        return t.candidate(f"Vehicle registration is {value.upper()}", "note", None, conf, at)
    return t.candidate(f"{label.capitalize()} number is {value.upper()}", "identity",
                       _ID_SLOTS.get(label), conf, at)


def spoken_identifiers(t: TurnView) -> list[Candidate]:
    """Numbers that identify the caller's account, order, ticket or claim."""
    out: list[Candidate] = []
    for m in _ID_SAID.finditer(t.user):
        c = _id(t, m.group("kind"), m.group("value"), m.start(), 0.8)
        if c is not None:
            out.append(c)
    if not out:
        asked = _ASKED_ID.search(t.prev_agent)
        answer = _BARE_VALUE.match(t.user.strip())
        if asked and answer:
            c = _id(t, asked.group("kind") or asked.group("kind2"), answer.group("value"), 0,
                    0.75)
            if c is not None:
                out.append(c)
    for m in (*_AGENT_ISSUED.finditer(t.agent), *_AGENT_FILED.finditer(t.agent)):
        c = _id(t, m.group("kind"), m.group("value"), len(t.user) + m.start(), 0.7)
        if c is not None:
            out.append(c)
    for m in _AGENT_OPENED.finditer(t.agent):
        c = _id(t, m.group("kind"), m.group("value"), len(t.user) + m.start(), 0.7)
        if c is not None:
            out.append(c)
    return out


THING_RULES = (vehicles, spoken_addresses, spoken_identifiers)
