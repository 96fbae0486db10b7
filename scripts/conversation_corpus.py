"""Generate general conversational English for training the static embedding model.

The static model (``scripts/distill_static.py``) learns to reproduce a teacher model's
sentence embeddings; it needs text that looks like what voxmem stores and searches:
callers talking about their lives and agents answering, and later questions about
what was said. None of it comes from a benchmark. It is built from templates and word
lists written here, names, places and companies from ``faker``, and, for coverage of
words the templates never use, short runs of words drawn from the tokenizer's own
vocabulary.

Deterministic for a given seed::

    python scripts/conversation_corpus.py --count 20 --seed 1     # print a sample
"""

from __future__ import annotations

import argparse
import random
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

# --------------------------------------------------------------------------------------
# Word lists (slot fillers). Broad on purpose: the model learns a vector per token, so
# every topic a caller might raise should appear in many contexts.
# --------------------------------------------------------------------------------------

RELATIVES = ["mom", "mother", "dad", "father", "sister", "brother", "son", "daughter",
             "wife", "husband", "partner", "grandmother", "grandma", "grandfather",
             "grandpa", "aunt", "uncle", "cousin", "niece", "nephew", "girlfriend",
             "boyfriend", "fiancée", "fiancé", "stepson", "stepdaughter", "in-laws",
             "mother-in-law", "best friend", "roommate", "neighbor", "coworker", "boss",
             "kids", "twins", "baby", "granddaughter", "grandson", "parents"]
PETS = ["dog", "puppy", "cat", "kitten", "parrot", "hamster", "rabbit", "goldfish",
        "horse", "turtle", "guinea pig", "lizard", "snake", "budgie", "ferret", "pony"]
PET_NAMES = ["Bruno", "Max", "Luna", "Bella", "Charlie", "Coco", "Milo", "Daisy", "Rocky",
             "Oscar", "Pepper", "Ziggy", "Biscuit", "Mochi", "Shadow", "Nala", "Toby"]
FOODS = ["pizza", "sushi", "tacos", "pasta", "lasagna", "curry", "ramen", "burgers",
         "salad", "steak", "pancakes", "dumplings", "pho", "paella", "falafel", "bagels",
         "chocolate cake", "ice cream", "apple pie", "barbecue", "fried chicken",
         "mac and cheese", "seafood", "oysters", "lentil soup", "tofu stir fry",
         "banana bread", "cookies", "cheesecake", "kimchi", "enchiladas", "risotto",
         "smoothies", "avocado toast", "oatmeal", "scrambled eggs", "grilled salmon"]
CUISINES = ["Italian", "Mexican", "Thai", "Japanese", "Indian", "Chinese", "Greek",
            "Korean", "Vietnamese", "French", "Ethiopian", "Lebanese", "Spanish",
            "Turkish", "Peruvian", "Moroccan", "Brazilian", "vegan", "vegetarian",
            "gluten-free", "Mediterranean", "Cajun", "soul food"]
DIETS = ["vegan", "vegetarian", "gluten-free", "dairy-free", "keto", "low-sodium",
         "halal", "kosher", "pescatarian", "nut-free", "low-carb", "diabetic"]
ALLERGENS = ["peanuts", "shellfish", "gluten", "dairy", "eggs", "soy", "tree nuts",
             "penicillin", "latex", "cats", "pollen", "bee stings", "sesame"]
HOBBIES = ["painting", "pottery", "gardening", "knitting", "photography", "hiking",
           "baking", "woodworking", "birdwatching", "fishing", "chess", "yoga",
           "rock climbing", "swimming", "running", "cycling", "camping", "surfing",
           "skiing", "dancing", "salsa dancing", "sewing", "journaling", "writing poetry",
           "playing video games", "board games", "crossword puzzles", "reading",
           "volunteering", "scrapbooking", "stargazing", "kayaking", "meditation",
           "martial arts", "karaoke", "collecting stamps", "restoring old cars",
           "learning Spanish", "coding", "cooking", "calligraphy", "archery"]
SPORTS = ["soccer", "basketball", "tennis", "baseball", "volleyball", "golf", "hockey",
          "football", "badminton", "table tennis", "rugby", "cricket", "lacrosse"]
INSTRUMENTS = ["guitar", "piano", "violin", "drums", "ukulele", "cello", "saxophone",
               "flute", "trumpet", "bass", "harmonica", "clarinet"]
GENRES = ["jazz", "classical music", "hip hop", "country", "rock", "pop", "blues",
          "folk", "reggae", "electronic music", "opera", "metal", "K-pop", "gospel"]
MEDIA = ["mystery novels", "science fiction", "fantasy books", "romance novels",
         "biographies", "true crime podcasts", "documentaries", "horror movies",
         "comedies", "cooking shows", "anime", "history books", "self-help books",
         "graphic novels", "poetry", "thrillers", "nature documentaries"]
APPOINTMENTS = ["dentist appointment", "doctor's appointment", "checkup", "haircut",
                "eye exam", "physical therapy session", "vet appointment",
                "oil change", "job interview", "parent-teacher conference",
                "therapy session", "massage", "car service", "flu shot",
                "blood test", "dermatologist appointment", "tax appointment",
                "home inspection", "piano lesson", "driving test", "MRI scan",
                "follow-up visit", "cleaning", "consultation", "court date"]
PROFESSIONALS = ["Dr.", "Doctor", "Dr.", "Nurse", "Mr.", "Ms.", "Mrs.", "Professor",
                 "Coach"]
FEELINGS = ["happy", "excited", "nervous", "stressed", "anxious", "relieved", "proud",
            "tired", "exhausted", "frustrated", "grateful", "lonely", "overwhelmed",
            "hopeful", "sad", "upset", "thrilled", "worried", "calm", "motivated",
            "disappointed", "confused", "annoyed", "content", "scared", "inspired"]
PLACES = ["the beach", "the mountains", "the lake", "the park", "the museum",
          "the library", "the gym", "the farmers market", "the mall", "the zoo",
          "the aquarium", "a concert", "the theater", "the stadium", "a wedding",
          "a birthday party", "church", "the community center", "the office",
          "the hospital", "the airport", "a cabin in the woods", "the countryside",
          "a music festival", "an art gallery", "a support group", "a book club",
          "the campsite", "the coffee shop", "the bakery", "the pharmacy", "school"]
WORK = ["project", "presentation", "deadline", "promotion", "performance review",
        "new job", "team meeting", "client call", "quarterly report", "conference",
        "training course", "shift", "business trip", "raise", "contract", "startup",
        "internship", "side business", "job offer", "layoff", "retirement"]
JOB_ACTIONS = ["started a new job", "got promoted", "changed careers",
               "quit my job", "started my own business", "went back to school",
               "finished my degree", "passed my exam", "got laid off", "retired",
               "switched teams", "got a raise", "started working from home"]
LIFE_EVENTS = ["moved to a new apartment", "bought a house", "got married",
               "got engaged", "had a baby", "adopted a dog", "adopted a cat",
               "ran a marathon", "broke my arm", "had surgery", "graduated",
               "learned to swim", "went on a road trip", "lost my wallet",
               "renovated the kitchen", "started therapy", "joined a choir",
               "took a pottery class", "went camping", "celebrated our anniversary",
               "visited my grandparents", "planted a vegetable garden",
               "got my driver's license", "painted the living room",
               "signed up for a cooking class", "went to a job fair",
               "volunteered at the shelter", "hosted a dinner party",
               "started learning the piano", "came out to my family",
               "went to a protest", "got a tattoo", "sold my old car"]
ITEMS = ["blender", "laptop", "phone", "vacuum cleaner", "coffee maker", "sofa",
         "mattress", "washing machine", "dishwasher", "printer", "headphones",
         "jacket", "running shoes", "bike", "television", "microwave", "desk chair",
         "router", "smartwatch", "tablet", "air conditioner", "refrigerator",
         "stroller", "suitcase", "camera", "dining table", "lamp", "rug"]
PROBLEMS = ["arrived broken", "stopped working", "is making a strange noise",
            "never arrived", "was the wrong size", "was charged twice",
            "keeps disconnecting", "won't turn on", "is leaking", "came without the cable",
            "was delivered to the wrong address", "is missing a part",
            "overheats after an hour", "has a cracked screen"]
VEHICLES = ["car", "truck", "minivan", "motorcycle", "SUV", "scooter", "camper van",
            "hybrid", "electric car", "pickup"]
CAR_MAKES = ["Toyota", "Honda", "Ford", "Subaru", "Tesla", "Volkswagen", "Hyundai",
             "Kia", "Mazda", "Chevrolet", "Nissan", "BMW", "Volvo"]
COLORS = ["red", "blue", "green", "black", "white", "silver", "yellow", "purple",
          "orange", "pink", "gray", "navy", "teal", "brown"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
            "Sunday"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]
SEASONS = ["spring", "summer", "fall", "autumn", "winter"]
WHEN_PAST = ["yesterday", "last week", "last weekend", "two days ago", "last month",
             "a few weeks ago", "last year", "over the holidays", "this morning",
             "last night", "on Saturday", "in the spring", "a couple of months ago",
             "back in college", "when I was a kid", "the other day", "recently"]
WHEN_FUTURE = ["tomorrow", "next week", "this weekend", "next month", "on Friday",
               "in two weeks", "next summer", "after the holidays", "tonight",
               "later this year", "in the fall", "on my birthday", "soon"]
TIMES = ["8:30", "9 am", "10:15", "noon", "1 pm", "2:45", "three o'clock", "4:30",
         "half past five", "6 pm", "seven in the evening", "quarter to nine"]
SEATS = ["an aisle seat", "a window seat", "a quiet room", "a table by the window",
         "the early slot", "a morning appointment", "an afternoon slot",
         "a female doctor", "a ground-floor room", "paper statements",
         "text reminders", "email instead of calls", "the same technician as last time"]
CONTACT = ["by text", "by email", "after 5 pm", "in the mornings", "on my cell",
           "at work", "on weekends only", "before noon"]
TRAVEL = ["flight", "train trip", "cruise", "road trip", "hotel booking",
          "vacation", "honeymoon", "camping trip", "family reunion", "ski trip"]
FILLERS = ["um", "uh", "so", "well", "yeah", "like", "you know", "I mean", "okay",
           "honestly", "actually", "oh", "hmm", "right"]
AGENT_OPENERS = ["Of course.", "Sure thing.", "Absolutely.", "Got it.", "I see.",
                 "Thanks for letting me know.", "I'm sorry to hear that.",
                 "That sounds wonderful!", "Oh, how exciting!", "No problem.",
                 "Let me check that for you.", "Great, thank you.", "Understood.",
                 "That's lovely to hear.", "I completely understand."]
SHORT_TURNS = ["yeah that's right", "ok thanks", "no that's all", "sure", "hello?",
               "can you hear me", "sorry, say that again?", "perfect, thank you so much",
               "that works for me", "hold on a second", "let me think", "yes please",
               "no thank you", "great", "bye", "hi there", "I'm not sure",
               "that sounds good", "could you repeat that", "thanks, you too"]
REASONS = ["because it helps me relax", "since it keeps me active",
           "because my doctor recommended it", "to spend more time with my family",
           "because I grew up with it", "since it reminds me of home",
           "because it's good for my mental health", "to meet new people",
           "because I want to save money", "since my kids love it too"]
NUMBER_WORDS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
                "ten", "twelve", "fifteen", "twenty", "thirty"]


def _maybe(rng: random.Random, p: float, text: str) -> str:
    return text if rng.random() < p else ""


class _Slots:
    """Fresh random slot values for one sentence (faker for names, places, companies)."""

    def __init__(self, rng: random.Random, fake: Any) -> None:
        self._rng = rng
        self._fake = fake

    def __getitem__(self, key: str) -> str:
        r, f = self._rng, self._fake
        table: dict[str, Callable[[], str]] = {
            "name": f.first_name,
            "full": f.name,
            "last": f.last_name,
            "city": f.city,
            "country": f.country,
            "state": f.state,
            "street": f.street_address,
            "company": f.company,
            "job": f.job,
            "email": f.email,
            "rel": lambda: r.choice(RELATIVES),
            "pet": lambda: r.choice(PETS),
            "petname": lambda: r.choice(PET_NAMES),
            "food": lambda: r.choice(FOODS),
            "cuisine": lambda: r.choice(CUISINES),
            "diet": lambda: r.choice(DIETS),
            "allergen": lambda: r.choice(ALLERGENS),
            "hobby": lambda: r.choice(HOBBIES),
            "sport": lambda: r.choice(SPORTS),
            "instrument": lambda: r.choice(INSTRUMENTS),
            "genre": lambda: r.choice(GENRES),
            "media": lambda: r.choice(MEDIA),
            "appt": lambda: r.choice(APPOINTMENTS),
            "pro": lambda: r.choice(PROFESSIONALS),
            "feeling": lambda: r.choice(FEELINGS),
            "place": lambda: r.choice(PLACES),
            "work": lambda: r.choice(WORK),
            "jobact": lambda: r.choice(JOB_ACTIONS),
            "event": lambda: r.choice(LIFE_EVENTS),
            "item": lambda: r.choice(ITEMS),
            "problem": lambda: r.choice(PROBLEMS),
            "vehicle": lambda: r.choice(VEHICLES),
            "make": lambda: r.choice(CAR_MAKES),
            "color": lambda: r.choice(COLORS),
            "day": lambda: r.choice(WEEKDAYS),
            "month": lambda: r.choice(MONTHS),
            "season": lambda: r.choice(SEASONS),
            "past": lambda: r.choice(WHEN_PAST),
            "future": lambda: r.choice(WHEN_FUTURE),
            "time": lambda: r.choice(TIMES),
            "seat": lambda: r.choice(SEATS),
            "contact": lambda: r.choice(CONTACT),
            "travel": lambda: r.choice(TRAVEL),
            "reason": lambda: r.choice(REASONS),
            "num": lambda: str(r.randint(2, 12)),
            "numw": lambda: r.choice(NUMBER_WORDS),
            "year": lambda: str(r.randint(1975, 2026)),
            "order": lambda: str(r.randint(1000, 999999)),
            "age": lambda: str(r.randint(3, 90)),
            "date": lambda: f"{r.choice(MONTHS)} {r.randint(1, 28)}",
        }
        return table[key]()


# Caller statements, by topic. {slot} placeholders are filled per sentence.
CALLER = [
    # family and relationships
    "My {rel} {name} is coming to visit {future}.",
    "My {rel} just turned {age} and we threw a party at {place}.",
    "I've been worried about my {rel}, she hasn't been feeling well.",
    "My {rel} and I had a big argument {past} and we still aren't talking.",
    "I'm taking my {rel} to {place} {future}.",
    "My {rel} {name} lives in {city} now.",
    "{name} is my {rel}, she usually handles the bills.",
    "My {rel} starts at a new school in {month}.",
    "We're planning a surprise party for my {rel}'s birthday on {date}.",
    "My {rel} got a job at {company} as a {job}.",
    "I spent the whole weekend helping my {rel} move.",
    # pets
    "I have a {pet} named {petname}.",
    "My {pet} {petname} has been sick and needs to see the vet {future}.",
    "We adopted a {pet} {past}, her name is {petname}.",
    "{petname}, my {pet}, chewed up my {item} again.",
    "I take {petname} for a walk every morning before work.",
    # food and preferences
    "I'm {diet}, so please make sure there's no meat.",
    "I'm allergic to {allergen}.",
    "My {rel} is allergic to {allergen}, so we have to be careful.",
    "I absolutely love {cuisine} food, especially {food}.",
    "I can't stand {food}, it makes me feel sick.",
    "We had {food} for dinner {past} and it was amazing.",
    "I always order {food} when we go out.",
    "My favorite restaurant is a little {cuisine} place near {place}.",
    "I've been trying to cook more {cuisine} dishes at home.",
    "I always want {seat}.",
    "I prefer {seat} if you have one.",
    "Please contact me {contact}.",
    "I'd rather you reach me {contact}.",
    "Make it {diet}, please.",
    "I don't drink coffee anymore, just green tea.",
    # hobbies and interests
    "I've been getting into {hobby} lately.",
    "I started {hobby} {past} and I'm hooked.",
    "On weekends I like {hobby} with my {rel}.",
    "I love {hobby} {reason}.",
    "I play {sport} every {day} with some friends.",
    "I've been learning to play the {instrument} for {numw} years.",
    "I mostly listen to {genre} when I'm driving.",
    "I've been reading a lot of {media} lately.",
    "My {rel} got me into {media}.",
    "I'm training for a {numw}-mile race in {month}.",
    "I painted a picture of {place} {past}.",
    # appointments and services
    "I need to reschedule my {appt} on {day}.",
    "I have a {appt} with {pro} {last} on {day} at {time}.",
    "Can I book a {appt} for {future}?",
    "I missed my {appt} {past}, can we set up a new one?",
    "I'd like to cancel my {appt}.",
    "Is there anything available {future} in the afternoon?",
    "My {appt} got moved to {date} at {time}.",
    # shopping, orders, accounts
    "My order number is {order}.",
    "I ordered a {item} {past} and it {problem}.",
    "The {item} I bought {problem}.",
    "I'd like a refund for the {item}.",
    "I was charged twice for order {order}.",
    "My account is under {full}.",
    "My email is {email}.",
    "I moved, my new address is {street}, {city}.",
    "I drive a {color} {make} {vehicle}.",
    "My {make} is making a weird noise when I brake.",
    # work
    "I {jobact} {past}.",
    "I work as a {job} at {company}.",
    "I have a big {work} {future} and I'm really {feeling}.",
    "My {work} went better than I expected.",
    "My boss wants me to lead the new {work}.",
    "I've been working late every night because of the {work}.",
    # travel and plans
    "We're going to {country} for our {travel} in {month}.",
    "I just got back from {city}, it was beautiful.",
    "I'm thinking about taking a {travel} {future}.",
    "My {travel} to {city} got cancelled.",
    "We're planning to visit {place} {future}.",
    "I want to go to {country} someday, it's on my bucket list.",
    "I went to {place} with my {rel} {past}.",
    # past events, life, feelings
    "I {event} {past}.",
    "{past} I {event}, and I'm so {feeling} about it.",
    "I feel {feeling} because of everything going on at work.",
    "Honestly I've been feeling {feeling} since my {rel} moved away.",
    "I'm {feeling} about the {work}.",
    "It was the first time I {event}.",
    "I'm really {feeling}, I finally {event}.",
    "I grew up in {city} but moved to {state} in {year}.",
    "We've lived in {city} since {year}.",
    "It rained all {season} so we stayed inside a lot.",
    "I was born in {year}.",
    "My name is {full}.",
    "It's {name}, {name} {last}.",
    "This is {name} calling about my {item}.",
]

AGENT = [
    "{opener} I've noted that you're allergic to {allergen}.",
    "{opener} You're booked for {day} {date} at {time} with {pro} {last}.",
    "{opener} A specialist will call you back on {day}.",
    "{opener} I've updated your address to {street}.",
    "{opener} How is your {pet} {petname} doing?",
    "{opener} Did you end up going to {place}?",
    "{opener} How was the {travel} to {city}?",
    "{opener} I'll make sure we reach you {contact}.",
    "{opener} Can I have your name, please?",
    "{opener} Could you give me the order number?",
    "{opener} I'll add a note that you prefer {seat}.",
    "{opener} I've issued a refund for the {item}; it should arrive in {numw} days.",
    "{opener} Is there anything else I can help you with today?",
    "{opener} How are things going with your {hobby}?",
    "{opener} Last time you mentioned your {rel} was {feeling}. How is she now?",
    "{opener} I'd recommend a {cuisine} place, since you enjoy {food}.",
    "{opener} Congratulations on the {work}!",
]

QUESTIONS = [
    "What is the name of my {pet}?",
    "What did I tell you about my {rel}?",
    "When is my {appt}?",
    "Where did I go {past}?",
    "What kind of food do I like?",
    "Can you recommend a restaurant for dinner {future}?",
    "Can you suggest something to do this weekend?",
    "Any ideas for a gift for my {rel}?",
    "What hobbies have I picked up recently?",
    "What am I allergic to?",
    "Do you remember what I said about my {work}?",
    "What did I do {past}?",
    "How long have I been playing the {instrument}?",
    "Where does my {rel} live?",
    "What car do I drive?",
    "Which city did I move to?",
    "When did I {event}?",
    "Why did I start {hobby}?",
    "How did I feel about the {work}?",
    "What was wrong with my {item}?",
    "What's my order number?",
    "What books would I enjoy?",
    "Can you recommend some music for my drive?",
    "Where should I go for my next {travel}?",
    "What did my {rel} get me for my birthday?",
    "Who is {name}?",
    "What seat do I usually prefer?",
    "How should you contact me?",
    "Did I ever mention my {pet}?",
    "What does my {rel} do for work?",
    "What was the first time I called about?",
    "When did I last talk about my {appt}?",
    "What are my plans for {future}?",
    "What sport do I play?",
    "What kind of {media} do I like?",
    "Would I be interested in a {hobby} class?",
    "What should I cook for my {rel} tonight?",
    "Have I been to {country}?",
]

_SLOT = re.compile(r"\{(\w+)\}")


def _fill(template: str, slots: _Slots, rng: random.Random) -> str:
    def one(match: re.Match[str]) -> str:
        key = match.group(1)
        if key == "opener":
            return rng.choice(AGENT_OPENERS)
        return slots[key]

    text = _SLOT.sub(one, template)
    return text[0].upper() + text[1:] if text else text


def _speechify(text: str, rng: random.Random) -> str:
    """Make a sentence read like an STT transcript: fillers, lower case, no punctuation."""
    words = text.split()
    if rng.random() < 0.5 and words:
        words.insert(rng.randrange(len(words)), rng.choice(FILLERS))
    out = " ".join(words)
    if rng.random() < 0.6:
        out = re.sub(r"[.,!?;]", "", out).lower()
    return out


def _vocab_words(vocab: Sequence[str]) -> list[str]:
    # Whole words only (no "##" continuation pieces, no [unused] or special tokens).
    return [w for w in vocab if w.isalpha() and not w.startswith("##") and len(w) > 1]


def generate(count: int, seed: int = 0, vocab: Sequence[str] = (),
             vocab_share: float = 0.15) -> Iterator[str]:
    """Yield ``count`` texts: caller turns, agent turns, questions, short replies,
    multi-sentence turns and (``vocab_share`` of them, when ``vocab`` is given) runs of
    3-8 random vocabulary words, so every token the tokenizer knows is seen in training.
    """
    from faker import Faker

    rng = random.Random(seed)
    fake = Faker(["en_US", "en_GB", "en_IN", "en_AU", "en_CA"])
    fake.seed_instance(seed)
    slots = _Slots(rng, fake)
    words = _vocab_words(vocab)
    for _ in range(count):
        roll = rng.random()
        if words and roll < vocab_share:
            yield " ".join(rng.choice(words) for _ in range(rng.randint(3, 8)))
            continue
        roll = rng.random()
        if roll < 0.40:
            text = _fill(rng.choice(CALLER), slots, rng)
        elif roll < 0.55:
            text = _fill(rng.choice(AGENT), slots, rng)
        elif roll < 0.72:
            text = _fill(rng.choice(QUESTIONS), slots, rng)
        elif roll < 0.77:
            text = rng.choice(SHORT_TURNS)
        else:
            # A longer turn: two or three caller sentences, sometimes with a reason.
            parts = [_fill(rng.choice(CALLER), slots, rng) for _ in range(rng.randint(2, 3))]
            text = " ".join(parts) + _maybe(rng, 0.2, " " + _fill("I did it {reason}.",
                                                                  slots, rng))
        if rng.random() < 0.3:
            text = _speechify(text, rng)
        yield text


# Questions about a named person, as asked of a transcript with speaker labels.
NAMED_QUESTIONS = [
    "What did {name} say about {pron} {rel}?",
    "When did {name} {event_base}?",
    "What does {name} like to do on weekends?",
    "What kind of food does {name} like?",
    "Where did {name} go {past}?",
    "What is the name of {name}'s {pet}?",
    "Why did {name} start {hobby}?",
    "How does {name} feel about {pron} {work}?",
    "What instrument does {name} play?",
    "Who is {name}'s {rel}?",
    "What did {name} and {name2} talk about {past}?",
    "Which city does {name} live in?",
    "What did {name} buy {past}?",
    "What is {name} allergic to?",
    "What has {name} been reading lately?",
]
# The past events above without "I" (a named question asks "when did Ana ...?").
EVENT_BASES = ["move to a new apartment", "buy a house", "get married", "adopt a dog",
               "run a marathon", "start therapy", "join a choir", "take a pottery class",
               "go camping", "visit {pron} grandparents", "plant a vegetable garden",
               "paint the living room", "host a dinner party", "start a new job",
               "go to a music festival", "sell {pron} old car", "get a tattoo"]
# Asking the assistant for help at the end of a long turn.
ASKS = ["Can you suggest some {hobby} ideas?", "Do you have any tips for {hobby}?",
        "Can you recommend a good {cuisine} recipe?", "Any ideas for what to do {future}?",
        "What do you think I should do?", "Could you help me plan it?",
        "Do you know any good places near {city}?", "Can you suggest some activities?",
        "What should I make for dinner?", "How can I get better at it?",
        "Can you recommend some {media}?", "Any advice for the {travel}?"]


def _labelled_turn(slots: _Slots, rng: random.Random) -> str:
    """A turn of a transcript with speaker labels: "Ana: I've been getting into..."."""
    speaker = slots["name"]
    parts = [_fill(rng.choice(CALLER), slots, rng) for _ in range(rng.randint(1, 3))]
    return f"{speaker}: " + " ".join(parts)


def _named_question(slots: _Slots, rng: random.Random) -> str:
    template = rng.choice(NAMED_QUESTIONS)
    pron = rng.choice(["his", "her", "their"])
    event = rng.choice(EVENT_BASES).replace("{pron}", pron)
    template = (template.replace("{pron}", pron).replace("{event_base}", event)
                .replace("{name2}", slots["name"]))
    return _fill(template, slots, rng)


def _long_turn(slots: _Slots, rng: random.Random) -> str:
    """A chat-assistant style user message: a few sentences of context, then a request."""
    parts = [_fill(rng.choice(CALLER), slots, rng) for _ in range(rng.randint(3, 5))]
    return " ".join(parts) + " " + _fill(rng.choice(ASKS), slots, rng)


def generate_labelled(count: int, seed: int = 0) -> Iterator[str]:
    """Yield ``count`` texts of three kinds the main stream lacks: turns opening with a
    speaker label, questions naming a person, and long user messages ending in a
    request. A separate stream (its own generator state) so that adding it leaves the
    main corpus, and the teacher embeddings cached for it, unchanged."""
    from faker import Faker

    rng = random.Random(f"labelled-{seed}")
    fake = Faker(["en_US", "en_GB", "en_IN", "en_AU", "en_CA"])
    fake.seed_instance(seed + 1)
    slots = _Slots(rng, fake)
    for _ in range(count):
        roll = rng.random()
        if roll < 0.45:
            text = _labelled_turn(slots, rng)
        elif roll < 0.75:
            text = _named_question(slots, rng)
        else:
            text = _long_turn(slots, rng)
        if rng.random() < 0.2:
            text = _speechify(text, rng)
        yield text


def _exchange(slots: _Slots, rng: random.Random) -> str:
    """A stored voice turn: what the caller said, a newline, and the agent's reply."""
    caller = " ".join(_fill(rng.choice(CALLER), slots, rng) for _ in range(rng.randint(1, 4)))
    if rng.random() < 0.5:
        caller = _speechify(caller, rng)
    return caller + "\n" + _fill(rng.choice(AGENT), slots, rng)


def _chat_message(slots: _Slots, rng: random.Random) -> str:
    """A long message to an assistant: several sentences about the caller's life, often
    with a request in the middle or at the end (the ask is not always last)."""
    parts = [_fill(rng.choice(CALLER), slots, rng) for _ in range(rng.randint(4, 9))]
    if rng.random() < 0.7:
        parts.insert(rng.randint(0, len(parts)), _fill(rng.choice(ASKS), slots, rng))
    return " ".join(parts)


def generate_long(count: int, seed: int = 0) -> Iterator[str]:
    """Yield ``count`` long texts: what voxmem stores is mostly longer than one sentence
    (a caller's turn with the agent's reply, a chat message of several sentences), and a
    static model's mean over many tokens drifts toward the table's common direction
    unless it is trained on such texts too. A stream of its own, like
    ``generate_labelled``, so adding it leaves the other streams' cached teacher
    embeddings valid."""
    from faker import Faker

    rng = random.Random(f"long-{seed}")
    fake = Faker(["en_US", "en_GB", "en_IN", "en_AU", "en_CA"])
    fake.seed_instance(seed + 2)
    slots = _Slots(rng, fake)
    for _ in range(count):
        text = _exchange(slots, rng) if rng.random() < 0.4 else _chat_message(slots, rng)
        if rng.random() < 0.2:
            text = _speechify(text, rng)
        yield text


# Questions and requests a caller puts to an assistant about their own life: asking for
# a suggestion that fits what they told it, counting what they did over several calls,
# ordering events, recalling a detail. The main stream's 38 question templates cover few
# of these forms, and a query is embedded on its own, so the table must place such
# questions where the teacher does (docs/embeddings.md, "Question-form texts").
REQUEST_OPENERS = ["Can you suggest", "Could you recommend", "Do you have any recommendations for",
                   "Any tips on", "I'm looking for ideas for", "What would you recommend for",
                   "Can you give me some ideas for", "I need some suggestions for",
                   "Do you have any advice on", "What are some good options for",
                   "Could you help me come up with", "Any thoughts on"]
REQUEST_TOPICS = [
    "activities I can do in the evening", "things to do before bed", "ways to relax after work",
    "a gift for my {rel}", "what to bake for my coworkers", "a recipe that uses {food}",
    "a weekend trip near {city}", "some {media} to read next", "a new {hobby} project",
    "a workout routine I can stick to", "a podcast for my commute", "plants for my balcony",
    "a side dish for dinner tonight", "a hotel in {city}", "how to keep my {pet} busy",
    "music for a party at my place", "a camera for {hobby}", "what to serve at a dinner party",
    "a show to watch this weekend", "a {cuisine} restaurant in {city}", "how to sleep better",
    "a good time to go {sport}", "what to wear to a wedding", "a birthday party for my {rel}",
    "decorating my living room", "a playlist for my {travel}", "healthy snacks for work",
    "a board game for family night", "ways to save money on groceries", "a {diet} dinner",
    "what to plant in my garden this {season}", "a new {instrument} to learn",
    "a day trip with my {pet}", "how to stay productive at home", "an easy breakfast",
    "a cocktail to make at home", "accessories for my {vehicle}", "a book club pick",
    "things to do in {city} in {month}", "a way to use up my leftover {food}",
]
COUNT_NOUNS = ["albums", "books", "bikes", "concerts", "plants", "trips", "graduations",
               "movies", "classes", "projects", "appointments", "pairs of shoes",
               "video games", "recipes", "paintings", "museums", "weddings", "races",
               "countries", "cakes", "online courses", "doctors", "hikes", "camping trips",
               "pieces of furniture", "art supplies", "tickets", "model kits", "sweaters"]
# (past participle, base form): "have I bought", "did I buy".
COUNT_VERBS = [("bought", "buy"), ("read", "read"), ("attended", "attend"),
               ("visited", "visit"), ("fixed", "fix"), ("watched", "watch"),
               ("finished", "finish"), ("tried", "try"), ("planted", "plant"),
               ("sold", "sell"), ("ordered", "order"), ("made", "make"), ("baked", "bake"),
               ("returned", "return"), ("signed up for", "sign up for"),
               ("been to", "go to"), ("collected", "collect"), ("painted", "paint"),
               ("serviced", "service"), ("borrowed", "borrow"), ("booked", "book")]
PERIODS = ["this year", "in the last month", "since {month}", "so far", "recently",
           "in total", "over the past few weeks", "last year", "since I moved", ""]
SELF_QUESTIONS = [
    "{opener_req} {topic}?",
    "{opener_req} {topic}? I want something that suits me.",
    "I'm trying to figure out {topic}. What do you think?",
    "How many {countn} have I {countv} {period}?",
    "How many times did I play {sport} {period}?",
    "How much did I spend on my {item} {period}?",
    "How long have I been doing {hobby} now?",
    "How many days passed between my {appt} and the {work}?",
    "Which did I do first, {hobby} or {sport}?",
    "What was the first {countn_one} I {countv_past} {period}?",
    "Which {countn_one} did I {countv_base} most recently?",
    "What did I say I was going to do {future}?",
    "Remind me what I decided about the {work}.",
    "What was the name of the {cuisine} restaurant I mentioned?",
    "Where did I get my {item} from?",
    "What time do I usually go to bed?",
    "What color was the {vehicle} I was looking at?",
    "How old was my {rel} when we {event}?",
    "Did I end up going to {place} {past}?",
    "What's the total number of {countn} I've {countv}?",
    "Can you remind me how I felt after the {appt}?",
    "What did I name my {pet}?",
    "Which {countn_one} was my favorite?",
    "What do I usually order when I get {food}?",
    "What was the reason I gave for {hobby}?",
    "Where am I planning to go for my {travel}?",
]


def _self_question(slots: _Slots, rng: random.Random) -> str:
    template = rng.choice(SELF_QUESTIONS)
    noun = rng.choice(COUNT_NOUNS)
    one = noun[:-1] if noun.endswith("s") and not noun.startswith("pair") else "pair of shoes"
    verb = rng.choice(COUNT_VERBS)
    # "did I buy" but "the first album I bought", "have I bought"
    past = {"been to": "went to", "signed up for": "signed up for"}.get(verb[0], verb[0])
    template = (template.replace("{opener_req}", rng.choice(REQUEST_OPENERS))
                .replace("{topic}", rng.choice(REQUEST_TOPICS))
                .replace("{countn_one}", one).replace("{countn}", noun)
                .replace("{countv_base}", verb[1]).replace("{countv_past}", past)
                .replace("{countv}", verb[0])
                .replace("{period}", rng.choice(PERIODS)))
    return re.sub(r"\s+([?.])", r"\1", _fill(template, slots, rng))


def generate_questions(count: int, seed: int = 0) -> Iterator[str]:
    """Yield ``count`` questions and requests about the asker's own life (suggestions,
    counts, order of events, details). A stream of its own, like ``generate_labelled``,
    so adding it leaves the other streams' cached teacher embeddings valid."""
    from faker import Faker

    rng = random.Random(f"questions-{seed}")
    fake = Faker(["en_US", "en_GB", "en_IN", "en_AU", "en_CA"])
    fake.seed_instance(seed + 3)
    slots = _Slots(rng, fake)
    for _ in range(count):
        text = _self_question(slots, rng)
        if rng.random() < 0.2:
            text = _speechify(text, rng)
        yield text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--labelled", action="store_true",
                        help="sample the labelled stream (generate_labelled) instead")
    parser.add_argument("--long", action="store_true",
                        help="sample the long-text stream (generate_long) instead")
    parser.add_argument("--questions", action="store_true",
                        help="sample the question stream (generate_questions) instead")
    args = parser.parse_args(argv)
    stream = (generate_labelled if args.labelled else generate_long if args.long
              else generate_questions if args.questions else generate)
    for text in stream(args.count, args.seed):
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
