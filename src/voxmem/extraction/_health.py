"""Health data in a transcript: the condition, the medication or the treatment, as a span.

Only the words that carry the health information are reported, not the sentence around
them: "i pick up my lisinopril every month at the elm street pharmacy" keeps everything
but the drug name, so the recurring pickup is still remembered. A health word counts only
in a clause about a person ("i have", "my", "he's"), never in a clause about a pet ("my
dog biscuit is allergic to chicken" is the dog's business and useful to a vet or a pet
shop), and never on its own in general talk ("diabetes affects millions").

Medications are recognised by name (the commonest dispensed ones) and by the stems that
international non-proprietary names are built from ("-pril", "-olol", "-statin", ...);
a word list alone misses most drugs, and the stems are how pharmacists recognise them too.
"""

from __future__ import annotations

import re
from typing import Protocol

__all__ = ["HEALTH_TRIGGERS", "find_health_spans"]

# Conditions, treatments, disabilities, pregnancy and allergies. "-" matches a hyphen, a
# space or nothing ("pre-diabetic"). Generic words that name no condition ("prescription",
# "medication", "pharmacy", "refill") are deliberately absent: "i pick up my prescription
# every month" says nothing about the caller's health that a pharmacy does not already know.
_CONDITIONS = """
    diabetes | diabetic | pre-diabetic | type 1 diabetes | type 2 diabetes | cancer | tumor |
    tumors | tumour | tumours | leukemia | leukaemia | lymphoma | melanoma | chemo |
    chemotherapy | radiation therapy | radiotherapy | hiv | aids | hepatitis | herpes | std |
    sti | asthma | asthmatic | copd | emphysema | epilepsy | epileptic | seizure | seizures |
    stroke | heart attack | heart condition | heart disease | heart failure | heart surgery |
    bypass surgery | pacemaker | atrial fibrillation | afib | arrhythmia | blood pressure |
    high blood pressure | hypertension | cholesterol | high cholesterol | arthritis |
    rheumatoid arthritis | osteoarthritis | osteoporosis | gout | lupus | fibromyalgia |
    celiac | coeliac | celiac disease | crohn's | crohns | colitis | ibs | kidney disease |
    kidney failure | kidney stones | kidney stone | dialysis | transplant |
    multiple sclerosis | ms diagnosis | parkinson's | parkinsons | alzheimer's | alzheimers |
    dementia | autism | autistic | adhd | depression | depressed | anxiety | anxiety disorder |
    panic attack | panic attacks | bipolar | schizophrenia | schizophrenic | ptsd | ocd |
    eating disorder | anorexia | anorexic | bulimia | bulimic | addiction | addicted |
    alcoholic | rehab | therapist | psychiatrist | counseling | counselling | disability |
    disabilities | disabled veteran | wheelchair | crutches | hearing aid |
    hearing aids | pregnant | pregnancy | miscarriage | ivf | fertility treatment | surgery |
    knee surgery | hip replacement | knee replacement | injury | injuries | injured |
    broken leg | broken arm | broken wrist | broken ankle | broken hip | broken foot |
    fractured | fracture | bad back | back pain | chronic pain | herniated disc |
    herniated disk | slipped disc | slipped disk | bulging disc | sciatica | torn acl |
    torn meniscus | torn rotator cuff | rotator cuff | concussion | migraine | migraines |
    covid | long covid | allergy | allergies | allergic | anaphylaxis | lactose intolerant |
    gluten intolerant | intolerant | intolerance | diagnosed with | diagnosis | prescribed |
    insulin | inhaler | epipen | epi pen | hospice | hospitalized | hospitalised |
    sleep apnea | sleep apnoea | cpap | glaucoma | cataracts | cataract | macular degeneration |
    thyroid | hypothyroidism | hyperthyroidism | hernia | pneumonia | bronchitis |
    shingles | tuberculosis | anemia | anaemia | sickle cell | cystic fibrosis | hemophilia |
    endometriosis | pcos | menopause | vertigo | tinnitus | neuropathy | psoriasis | eczema |
    cerebral palsy | down syndrome | physical therapy | physiotherapy | chiropractor |
    oncologist | cardiologist | neurologist | dermatologist | obgyn | ob-gyn |
    i'm blind | i am blind | i'm deaf | i am deaf | legally blind | hard of hearing
"""
# Common medicines by name, and the stems generic names are built from. A stem must be
# the end of a word of at least six letters, so "april" or "oliver" do not match.
_MEDICINES = """
    metformin | warfarin | methadone | suboxone | buprenorphine | antidepressant |
    antidepressants | lithium | levothyroxine | synthroid | lisinopril | amlodipine |
    atorvastatin | lipitor | simvastatin | crestor | rosuvastatin | metoprolol | losartan |
    omeprazole | prilosec | nexium | gabapentin | sertraline | zoloft | prozac | fluoxetine |
    lexapro | escitalopram | citalopram | wellbutrin | bupropion | xanax | alprazolam |
    valium | diazepam | ativan | lorazepam | klonopin | adderall | ritalin | vyvanse |
    ozempic | wegovy | mounjaro | jardiance | trulicity | humira | eliquis | xarelto |
    plavix | prednisone | prednisolone | albuterol | ventolin | advair | symbicort |
    oxycodone | hydrocodone | vicodin | percocet | tramadol | morphine | fentanyl |
    codeine | naloxone | narcan | amoxicillin | penicillin | azithromycin | doxycycline |
    cipro | ciprofloxacin | insulin glargine | lantus | humalog | novolog | truvada |
    viagra | cialis | birth control | hrt | estrogen | testosterone |
    methotrexate | tamoxifen | seroquel | abilify | risperdal | lamictal | lamotrigine |
    keppra | depakote | topamax | topiramate | cymbalta | duloxetine | effexor |
    trazodone | ambien | zolpidem | melatonin | hydrochlorothiazide | furosemide | lasix |
    spironolactone | clopidogrel | pantoprazole | montelukast | singulair | allopurinol |
    colchicine | finasteride | tamsulosin | flomax | sumatriptan | imitrex | nicotine patch
"""
_MEDICINE_STEMS = (
    "pril", "olol", "statin", "sartan", "formin", "prazole", "tidine", "floxacin", "cycline",
    "cillin", "mycin", "oxetine", "azepam", "zolam", "triptan", "gliptin", "glutide",
    "dipine", "tropin", "vastatin", "parin", "xaban", "lukast", "terol", "sonide", "asone",
    "olone", "thiazide", "semide", "codone", "morphone", "barbital", "vir", "mab", "nib",
)
_MIN_STEM_WORD = 6
_STEM_TUPLE = tuple(s.encode() for s in _MEDICINE_STEMS)
# Words that end like a medicine but are not one.
_NOT_MEDICINES = frozenset({b"environ", b"terrapin"})
# "my blood pressure meds", "my heart pills": a generic medicine word right after a health
# phrase belongs to the span, and so does the allergen after "allergic to".
_TRAILING = re.compile(
    r"(?:\s+(?:meds|medication|medications|medicine|pills|tablets|prescription|"
    r"injections?|shots?|treatment|condition|problems?|issues?|attack|flare\s?ups?))+"
)
_ALLERGEN = re.compile(r"\s+(?:to|for)\s+((?:(?!and\b|but\b|so\b|or\b)[a-z'-]+\s?){1,3})")
_DIAGNOSED = re.compile(r"\s+(?:with\s+)?(?:a\s+|an\s+|some\s+)?((?:[a-z'-]+\s?){1,3})")
_STOP_AFTER = frozenset({
    "and", "but", "so", "or", "because", "since", "last", "this", "that", "it", "on", "in",
    "at", "for", "the", "a", "an", "my", "his", "her", "their", "every", "each", "next",
    "yesterday", "today", "week", "month", "year", "ago",
})


def _phrase_regex(phrase: str) -> str:
    words = [re.escape(w).replace("\\-", "[\\s-]?") for w in phrase.split()]
    return r"\s+".join(words)


def _phrase_list(block: str) -> list[str]:
    return [p.strip() for p in block.split("|") if p.strip()]


_PHRASES = _phrase_list(_CONDITIONS) + _phrase_list(_MEDICINES)
_HEALTH = re.compile(
    r"\b(?:" + "|".join(_phrase_regex(p) for p in sorted(_PHRASES, key=len, reverse=True))
    + r")\b"
)
#: Words whose presence makes the health patterns worth running (one per phrase, the longest).
HEALTH_TRIGGERS: frozenset[bytes] = frozenset(
    max(p.replace("-", " ").split(), key=len).encode() for p in _PHRASES
)
_PERSONAL = re.compile(
    r"\b(?:i|i'm|im|i've|ive|i'd|me|my|mine|myself|we|we're|our|us|he|she|he's|she's|his|"
    r"her|him|their|they're|you|your|you're|mom|mum|dad|son|daughter|wife|husband|"
    r"partner|mother|father|grandma|grandpa|grandmother|grandfather)\b"
)
# A health word in a clause about an animal describes the animal.
_PET = re.compile(
    r"\b(?:dog|dogs|dog's|puppy|pup|cat|cats|cat's|kitten|kitty|pet|pets|pet's|horse|pony|"
    r"bird|parrot|rabbit|bunny|hamster|guinea\s+pig|ferret|lizard|gecko|snake|tortoise|"
    r"turtle|vet|vet's|veterinarian|labrador|retriever|terrier|spaniel|poodle|"
    r"collie|beagle|bulldog)\b"
)
# Between the animal and the health word, a first-person subject means the caller again:
# "i walk my dog every day and i have asthma".
_FIRST_PERSON = re.compile(r"\b(?:i|i'm|im|i've|ive|i'd|me|myself)\b")
# "lithium battery": the element, not the medicine.
_NOT_HEALTH_AFTER = re.compile(r"\s+(?:battery|batteries|ion|cell|cells)\b")
_CLAUSE_BREAK = re.compile(r"[.!?;,\n]|\b(?:but|so|because|though|although|however|anyway)\b")
_SENTENCE_BREAK = re.compile(r"[.!?\n]")
_MAX_REACH = 300


class _ScanLike(Protocol):
    @property
    def low(self) -> str: ...

    @property
    def words(self) -> set[bytes]: ...

    def windows(self, triggers: frozenset[bytes], before: int, after: int
                ) -> list[tuple[int, int]]: ...


def _clause(low: str, start: int, end: int) -> tuple[int, int]:
    left = max(0, start - _MAX_REACH)
    clause_start = left
    for b in _CLAUSE_BREAK.finditer(low, left, start):
        clause_start = b.end()
    nxt = _CLAUSE_BREAK.search(low, end, min(len(low), end + _MAX_REACH))
    return clause_start, (nxt.start() if nxt else min(len(low), end + _MAX_REACH))


def _about_a_pet(low: str, start: int) -> bool:
    # The sentence so far names an animal and the caller has not become the subject
    # since: "my dog biscuit is allergic to chicken", "the vet put him on prednisone".
    # Only the words before the health word count, so "i'm allergic to cats" is the
    # caller's allergy.
    left = max(0, start - _MAX_REACH)
    sentence_start = left
    for b in _SENTENCE_BREAK.finditer(low, left, start):
        sentence_start = b.end()
    last_pet = None
    for m in _PET.finditer(low, sentence_start, start):
        last_pet = m
    return last_pet is not None and not _FIRST_PERSON.search(low, last_pet.end(), start)


def _extend(low: str, end: int, phrase: str) -> int:
    """Grow a span over what completes it: "allergic to shellfish", "diagnosed with X"."""
    tail = _TRAILING.match(low, end)
    if tail:
        end = tail.end()
    head = phrase.split()[0] if phrase else ""
    grow = _ALLERGEN if head in ("allergic", "allergy", "allergies", "intolerant") else (
        _DIAGNOSED if head in ("diagnosed", "diagnosis", "prescribed") else None)
    if grow is not None:
        m = grow.match(low, end)
        if m:
            words = []
            pos = m.start(1)
            for w in re.finditer(r"[a-z'-]+", m.group(1)):
                if w.group() in _STOP_AFTER:
                    break
                words.append(w)
            if words:
                end = pos + words[-1].end()
    return end


def find_health_spans(scan: _ScanLike, *, about_caller: bool) -> list[tuple[int, int]]:
    """``(start, end)`` of every health span in the scanned text (see the module doc)."""
    low = scan.low
    spans: list[tuple[int, int]] = []
    hits = [(m.start(), m.end(), m.group()) for start, end in
            scan.windows(HEALTH_TRIGGERS, before=30, after=30)
            for m in _HEALTH.finditer(low, start, end)]
    medicines = frozenset(
        w for w in scan.words
        if len(w) >= _MIN_STEM_WORD and w.endswith(_STEM_TUPLE) and w.isalpha()
        and w not in _NOT_MEDICINES
    ) if scan.words else frozenset()
    if medicines:
        named = re.compile(r"\b(?:" + "|".join(re.escape(w.decode()) for w in medicines) + r")\b")
        hits.extend((m.start(), m.end(), m.group()) for m in named.finditer(low))
    for start, end, phrase in sorted(set(hits)):
        if _NOT_HEALTH_AFTER.match(low, end):
            continue
        if not about_caller:
            c_start, c_end = _clause(low, start, end)
            if not _PERSONAL.search(low, c_start, c_end):
                continue
        if _about_a_pet(low, start):
            continue
        spans.append((start, _extend(low, end, phrase)))
    return spans
