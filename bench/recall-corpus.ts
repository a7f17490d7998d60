/**
 * A deterministic synthetic corpus for `npm run bench:recall`: long multi-session conversations
 * between two people, mostly small talk, with planted facts whose questions name their evidence
 * turns. Everything comes from one seeded PRNG (no Math.random, no clock), so a seed is a corpus.
 */

export interface Turn {
  /** `D<session>:<n>`, both 1-based: the ref the benchmark appends with and looks for in citations */
  id: string;
  speaker: string;
  text: string;
  /** when it was said (ISO 8601) */
  at: string;
}

export const questionTypes = ['single-hop', 'multi-hop', 'temporal', 'updated', 'paraphrased'] as const;
export type QuestionType = (typeof questionTypes)[number];

export interface Question {
  type: QuestionType;
  question: string;
  /** for a human reading the corpus; the benchmark scores evidence, not answers */
  answer: string;
  /** every turn needed to answer */
  evidence: string[];
}

export interface Conversation {
  id: string;
  speakers: [string, string];
  turns: Turn[];
  questions: Question[];
}

export interface CorpusOptions {
  conversations: number;
  seed: number;
  /** smaller conversations (fewer, shorter sessions) for a quick run */
  quick?: boolean;
}

/** mulberry32: tiny, fast, and good enough to pick words. */
export function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
  return { next, int, pick };
}
type Rng = ReturnType<typeof prng>;

// ---------------------------------------------------------------------------------------------
// Word lists. Planted values (pets, jobs, cities of facts...) never appear in the chatter lists,
// so a distractor can look like a fact ("flights to Oslo were $89") without answering a question.

// biome-ignore format: a word list reads better packed
const NAMES = [
  'Maria', 'Tom', 'Aisha', 'Jonas', 'Priya', 'Diego', 'Hannah', 'Kenji', 'Fatima', 'Lucas', 'Ingrid', 'Omar',
  'Chloe', 'Mateo', 'Yuki', 'Samuel', 'Leila', 'Victor', 'Nora', 'Ravi',
];
// biome-ignore format: a word list reads better packed
const FRIENDS = [
  'Clara', 'Bastian', 'Imogen', 'Rafael', 'Sunita', 'Elliot', 'Greta', 'Tobias', 'Mirela', 'Anouk',
];
const RELATIVES = ['brother', 'sister', 'cousin', 'uncle', 'aunt', 'nephew'];
// biome-ignore format: a word list reads better packed
const RELATIVE_NAMES = [
  'Felix', 'Marta', 'Hugo', 'Esme', 'Cyrus', 'Odile', 'Stellan', 'Ines', 'Arlo', 'Zofia',
];
// biome-ignore format: a word list reads better packed
const FACT_CITIES = [
  'Boston', 'Lisbon', 'Denver', 'Krakow', 'Melbourne', 'Montreal', 'Valencia', 'Edinburgh', 'Osaka',
  'Nairobi', 'Porto', 'Seattle', 'Ljubljana', 'Tallinn', 'Cork', 'Bergen',
];
const CHAT_CITIES = ['Oslo', 'Rome', 'Prague', 'Vienna', 'Dublin', 'Athens', 'Berlin', 'Madrid', 'Chicago'];
const JOBS: [string, string][] = [
  ['nurse', "St. Mary's Hospital"],
  ['pharmacist', 'the Greenway pharmacy'],
  ['structural engineer', 'Halden & Co'],
  ['primary school teacher', 'Oakfield Primary'],
  ['sous-chef', 'Bistro Lumen'],
  ['paramedic', 'the county ambulance service'],
  ['patent lawyer', 'Reed Marsh LLP'],
  ['veterinary assistant', 'the Paws and Claws clinic'],
  ['data analyst', 'a freight startup called Haulwise'],
  ['librarian', 'the Eastgate public library'],
  ['carpenter', 'a small furniture workshop'],
  ['air traffic controller', 'the regional airport'],
];
// biome-ignore format: a word list reads better packed
const JOB_DETAILS = [
  'the night shifts are brutal but the people are lovely', 'my manager actually listens, which is a first',
  'I get to cycle there along the canal', 'the first week was a blur of paperwork',
  'I finally feel like I know what I am doing',
];
const HOBBIES: [string, string][] = [
  ['pottery', 'my first bowl came out completely lopsided'],
  ['salsa', 'my partner keeps stepping on my toes'],
  ['bouldering', 'my forearms are on fire after every session'],
  ['watercolour', 'I painted the harbour and it looked like soup'],
  ['woodcarving', 'I whittled a tiny owl with only one ear'],
  ['fencing', 'I got poked in the ribs about forty times'],
  ['glassblowing', 'the furnace is terrifyingly hot'],
  ['improv', 'I had to pretend to be a confused penguin'],
  ['calligraphy', 'my ink smudges everywhere'],
];
const WEEKDAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];
const SPECIES: [string, string][] = [
  ['cat', 'tabby'],
  ['dog', 'scruffy'],
  ['rabbit', 'floppy-eared'],
  ['parrot', 'noisy'],
  ['tortoise', 'ancient'],
  ['ferret', 'hyperactive'],
  ['hamster', 'tiny'],
  ['greyhound', 'retired'],
];
// biome-ignore format: a word list reads better packed
const PET_NAMES = [
  'Biscuit', 'Juniper', 'Pickles', 'Mochi', 'Waffles', 'Pepper', 'Nutmeg', 'Ziggy', 'Basil', 'Clementine',
];
// biome-ignore format: a word list reads better packed
const PURCHASES = [
  'rowing machine', 'espresso machine', 'road bike', 'standing desk', 'telescope', 'sewing machine', 'kayak',
  'projector', 'accordion', 'camping stove', 'record player', 'pressure washer',
];
// biome-ignore format: a word list reads better packed
const SHOPS = [
  'a garage sale', 'the outlet mall', 'an online auction', 'a shop closing down', 'a friend of a friend',
];
const INSTRUMENTS = ['cello', 'ukulele', 'trumpet', 'banjo', 'harp', 'saxophone', 'mandolin', 'drum kit'];
const CARS: [string, string][] = [
  ['Volvo estate', 'it smells like wet dog'],
  ['Fiat Panda', 'the clutch is held together with hope'],
  ['Ford Fiesta', 'the heater only works on full blast'],
  ['Toyota Corolla', 'it has 300,000 kilometres on it'],
  ['Peugeot 206', 'the passenger door only opens from inside'],
];
const NEW_CARS = ['Nissan Leaf', 'Kia Niro', 'Honda Jazz', 'Skoda Octavia', 'Renault Zoe', 'Mazda MX-5'];
// biome-ignore format: a word list reads better packed
const MONTHS = [
  'January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October',
  'November', 'December',
];
const EVENTS: { says: (who: string) => string; asks: string }[] = [
  { says: (r) => `my ${r}'s wedding`, asks: "'s {rel}'s wedding" },
  { says: (r) => `my ${r}'s graduation ceremony`, asks: "'s {rel}'s graduation" },
  { says: (r) => `my ${r}'s fiftieth birthday party`, asks: "'s {rel}'s fiftieth birthday party" },
];
/** `confuse`: third-party chatter on the same topic, for a lexical ranker to trip over */
const ACHIEVEMENTS: { did: string; ask: string; confuse: string[] }[] = [
  {
    did: 'I finally passed my driving test, on the third attempt',
    ask: 'pass the driving test',
    confuse: [
      'My colleague has a driving test on Friday and is panicking.',
      'Driving lessons cost a fortune now, my niece says.',
    ],
  },
  {
    did: 'I ran my first half marathon and did not stop once',
    ask: 'run a half marathon',
    confuse: [
      'There is a half marathon through town on Sunday, all the roads are closed.',
      'My boss wants the whole team to run a marathon for charity.',
    ],
  },
  {
    did: 'I broke my wrist slipping on the ice outside the bakery',
    ask: 'break a wrist',
    confuse: [
      'My aunt broke her wrist skiing, she is in a cast for six weeks.',
      'The pavements are so icy, someone will break something.',
    ],
  },
  {
    did: 'I got my scuba diving certificate at the lake',
    ask: 'get certified for scuba diving',
    confuse: [
      'My cousin wants to go scuba diving in Egypt this summer.',
      'Diving looks terrifying to me, all that dark water.',
    ],
  },
  {
    did: 'I gave my first talk at a conference, hands shaking the whole time',
    ask: 'give a conference talk',
    confuse: [
      'Our director gave a talk at a conference and read every slide aloud.',
      'The conference hotel wifi was a joke.',
    ],
  },
  {
    did: 'I adopted a beehive from the community garden',
    ask: 'start keeping bees',
    confuse: [
      'There are bees nesting in the wall of the school, the kids are thrilled.',
      'Keeping chickens seems easier than keeping a dog.',
    ],
  },
  {
    did: 'I climbed Ben Nevis with my cousins',
    ask: 'climb Ben Nevis',
    confuse: [
      'My brother-in-law wants to climb Kilimanjaro, he cannot even climb stairs.',
      'Ben from work says hello, by the way.',
    ],
  },
];
const RELATIVE_TIMES: [string, number][] = [
  ['Yesterday', 1],
  ['Two days ago', 2],
  ['Last weekend', 7],
  ['A week ago', 7],
  ['Two weeks ago', 14],
  ['Ten days ago', 10],
];
// biome-ignore format: a word list reads better packed
const GIFTS = [
  'silver bracelet', 'leather journal', 'hand-knitted scarf', 'vintage camera', 'bonsai tree', 'cookbook',
];
// biome-ignore format: a word list reads better packed
const FRIEND_PLACES = [
  'a bakery', 'the aquarium', 'a design studio', 'the university', 'a brewery', 'a bookshop',
];
const RESTAURANTS: [string, string, string][] = [
  ['Casa Lupa', 'Portuguese', 'grilled octopus'],
  ['The Salt Loft', 'seafood', 'crab linguine'],
  ['Koji House', 'Japanese', 'black cod'],
  ['Olive and Thyme', 'Greek', 'lamb kleftiko'],
  ['Maison Verte', 'French', 'duck confit'],
  ['Saffron Lane', 'Persian', 'jewelled rice'],
];
const LANDMARKS = ['river', 'old cathedral', 'train station', 'harbour', 'botanical garden'];
/** paraphrased facts: what is said, what is asked (sharing no content word), the short answer */
const TRAITS: { says: string; asks: string; answer: string; confuse: string[] }[] = [
  {
    says: 'Peanuts are my kryptonite, one bite and my throat swells up',
    asks: 'What food is {X} allergic to?',
    answer: 'peanuts',
    confuse: [
      'My nephew is allergic to cats, poor thing.',
      'Hay fever season again, my eyes are streaming.',
      'The food at the wedding was cold but nice.',
    ],
  },
  {
    says: 'I grew up with four older sisters, the bathroom queue was brutal',
    asks: 'How many siblings does {X} have?',
    answer: 'four sisters',
    confuse: ['The siblings next door fight all day long.', 'How many people are coming on Saturday?'],
  },
  {
    says: 'Honestly spiders terrify me, I cannot even look at a picture of one',
    asks: 'What is {X} scared of?',
    answer: 'spiders',
    confuse: [
      'My dog is scared of the hoover, he hides under the bed.',
      'Horror films do not scare me at all.',
    ],
  },
  {
    says: 'I grew up speaking Portuguese at home, my grandmother never learned English',
    asks: "What is {X}'s mother tongue?",
    answer: 'Portuguese',
    confuse: [
      'My mother wants to learn a new language at seventy, I love that.',
      'I bit my tongue at the dentist, ouch.',
    ],
  },
  {
    says: 'Our flat is on the ninth floor and the lift breaks every other week',
    asks: 'How high up is the apartment where {X} lives?',
    answer: 'ninth floor',
    confuse: [
      'The apartment they showed us had mould everywhere.',
      'My friend lives in a tiny house on wheels now.',
    ],
  },
];

// Chatter: templates × slot lists, so lines rarely repeat and the vocabulary is large.
// biome-ignore format: word lists read better packed
const SLOTS: Record<string, readonly string[]> = {
  weather: [
    'grey and drizzly', 'weirdly warm', 'freezing', 'windy enough to steal umbrellas', 'sunny but cold',
    'muggy',
  ],
  dish: [
    'a lentil curry', 'shakshuka', 'homemade ramen', 'a lemon drizzle cake', 'stuffed peppers', 'paella',
    'banana bread', 'dumplings', 'a mushroom risotto', 'fish tacos',
  ],
  outcome: [
    'surprisingly edible', 'a total disaster', 'better than expected', 'way too salty',
    'gone in ten minutes', 'a bit burnt on top',
  ],
  show: [
    'The Quiet Harbour', 'Midnight Ledger', 'Glass Orchard', 'The Long Winter', 'Copper Street',
    'Northern Lines', 'Paper Moons',
  ],
  opinion: [
    'I could not stop watching', 'the ending made no sense', 'the second season drags',
    'the soundtrack is amazing', 'it is slow but worth it',
  ],
  book: [
    'a thriller about a missing lighthouse keeper', 'a memoir by a mountain guide',
    'a novel set in a Cairo hotel', 'a history of salt', 'a sci-fi trilogy about generation ships',
  ],
  sport: ['football', 'basketball', 'tennis', 'cricket', 'rugby', 'volleyball', 'hockey'],
  sportTake: [
    'what a comeback', 'the referee was blind', 'we got absolutely thrashed', 'it went to penalties',
    'pure chaos in the last minute',
  ],
  plan: [
    'painting the hallway', 'visiting the farmers market', 'doing absolutely nothing',
    'helping a friend move a sofa', 'hiking up the ridge', 'clearing out the garage',
    'going to a street food festival',
  ],
  work: ['hectic', 'quiet for once', 'full of pointless meetings', 'a bit chaotic', 'oddly calm'],
  workTake: [
    'everyone is off sick', 'we have a deadline on Friday', 'the printer is haunted again',
    'my inbox is a nightmare', 'the new coffee machine is the highlight',
  ],
  garden: ['tomatoes', 'sunflowers', 'courgettes', 'strawberries', 'basil', 'runner beans', 'sweet peas'],
  gardenTake: [
    'the slugs got to them first', 'they are finally sprouting', 'I overwatered them again',
    'the pigeons keep digging them up',
  ],
  neighbour: [
    'my neighbour', 'the guy downstairs', 'the couple next door', 'my landlord',
    'the woman across the street',
  ],
  noise: [
    'drilling at seven in the morning', 'practising the drums', 'hosting a karaoke night',
    'renovating the kitchen', 'arguing about recycling',
  ],
  animal: ['dog', 'cat', 'goose', 'parakeet', 'pug'],
  thing: ['my phone', 'the washing machine', 'my laptop', 'the boiler', 'my bike chain', 'the toaster'],
  broke: [
    'died on me', 'started making a grinding noise', 'refuses to turn on', 'flooded the kitchen',
    'keeps crashing',
  ],
  price: ['$19', '$45', '$89', '$120', '$230', '$15'],
  store: ['a lamp', 'new running shoes', 'a rug', 'a cast iron pan', 'a winter coat', 'some houseplants'],
  mood: [
    'exhausted', 'pretty good actually', 'a bit restless', 'weirdly productive', 'sleepy', 'in a great mood',
  ],
  band: ['The Velvet Foxes', 'Low Tide Choir', 'Neon Orchard', 'The Paper Kites', 'Static Gardens'],
  music: ['catchy', 'haunting', 'a bit too loud', 'perfect for rainy days', 'stuck in my head'],
  snack: ['crisps', 'a whole pizza', 'popcorn', 'leftover noodles', 'dark chocolate', 'cheese on toast'],
  place: ['the park', 'the beach', 'the lake', 'the old mill', 'the market square', 'the forest trail'],
  bookTake: [
    'I cannot put it down', 'the middle part drags a bit', 'the twist was obvious',
    'the writing is gorgeous', 'I keep falling asleep reading it',
  ],
  cityThing: ['food markets', 'old bridges', 'cheap wine', 'street art', 'night trams', 'hot springs'],
  gadget: ['smartwatch', 'fitness tracker', 'phone', 'step counter'],
  shelf: ['bookshelf', 'spice rack', 'wardrobe', 'desk drawers', 'record collection'],
  shopKind: ['bakery', 'ramen bar', 'bubble tea place', 'taco stand', 'ice cream shop', 'wine bar'],
  exercise: ['spin', 'pilates', 'kettlebell', 'boxing', 'aqua aerobics', 'barre'],
  build: ['treehouse', 'go-kart', 'snow fort', 'cardboard castle', 'bird feeder'],
  course: ['photography', 'Spanish', 'coding', 'bookkeeping', 'first aid', 'sign language'],
  hours: ['three', 'four', 'five', 'six'],
  covered: ['snow', 'fog', 'blossom', 'tourists', 'autumn leaves'],
  colour: ['sage green', 'terracotta', 'navy', 'pale yellow', 'dusty pink'],
  docTopic: [
    'octopuses', 'the deep sea', 'medieval bread', 'competitive yo-yo', 'lighthouses',
    'the history of zippers',
  ],
  reaction: [
    'That sounds amazing', 'Oh no, that is rough', 'Haha, classic', 'Wow, good for you', 'Ugh, I feel that',
    'No way', 'That is hilarious', 'Oh I love that',
  ],
  follow: [
    'Tell me more', 'How did that go?', 'Was it worth it?', 'I need the full story', 'What happened next?',
    'Are you okay though?',
  ],
};
// biome-ignore format: a word list reads better packed
const CHATTER = [
  'The weather here has been {weather} all week, I have not left the house much.',
  'I tried making {dish} last night and it was {outcome}.', 'Have you watched {show}? {opinion}.',
  'I am halfway through {book}, {bookTake}.', 'Did you catch the {sport} match on Sunday? {sportTake}.',
  'This weekend we are {plan}, wish me luck.', 'Work has been {work} lately, {workTake}.',
  'My {garden} are struggling, {gardenTake}.', '{neighbour} has been {noise} every day this week.',
  'I saw the cutest {animal} at {place} today, it tried to steal my sandwich.',
  '{thing} just {broke}, perfect timing as always.',
  'I found flights to {chatCity} for {price}, so tempting.',
  'I bought {store} for {price}, not sure I needed it.', 'Feeling {mood} today, no idea why.',
  '{band} put out a new album and it is {music}.', 'Dinner tonight is {snack}, I have given up on cooking.',
  'We walked along {place} after lunch, it was {weather}.',
  'A colleague just got back from {chatCity} and will not stop talking about the {cityThing}.',
  'I keep meaning to call my mum but the days vanish.',
  'I slept eleven hours last night and still feel {mood}.',
  'I have been listening to {band} on repeat, it is {music}.',
  'Someone at work brought {dish} and it was {outcome}.',
  'The trains were cancelled again so I walked, {weather} the whole way.',
  'I need a holiday, maybe {chatCity} in the spring for the {cityThing}.',
  'Rewatching {show} for the third time, {opinion}.',
  'My {gadget} keeps telling me to stand up, as if I did not know.',
  'I spent the whole evening reorganising my {shelf}, very satisfying.',
  'There is a new {shopKind} on our street and the queue goes round the corner.',
  'I tried a {exercise} class and now I cannot lift my arms.',
  'The kids next door built a {build} in the garden, it is honestly impressive.',
  'I signed up for a {course} course online and promptly forgot about it.',
  'We had a power cut for {hours} hours, played board games by candlelight.',
  'I finally fixed {thing}, only took three videos and a lot of swearing.',
  'My cousin sent me a photo of {chatCity} covered in {covered}.',
  'I am trying to drink less coffee but it is not going well.', 'Our book club picked {book}, {bookTake}.',
  'I lost my keys twice today, {mood} does not begin to cover it.',
  'The {shopKind} gave me extra {snack} for free, small wins.',
  'Thinking of repainting the bedroom {colour}, thoughts?',
  'I watched a documentary about {docTopic}, now I know far too much about it.',
];
// biome-ignore format: a word list reads better packed
const TAILS = [
  'Anyway, how is your week going?', 'What have you been up to?', 'How is everything on your side?',
  'Do you have plans for the weekend?', 'Sorry, I am rambling.', 'Life, eh.',
  'Not much else to report really.', 'Remind me to tell you the rest later.',
];
// biome-ignore format: a word list reads better packed
const REPLIES = [
  '{reaction}! {follow}', '{reaction}. I have been {plan} myself.',
  '{reaction}. Here it has been {weather}.', '{reaction}, honestly. I am {mood} today.',
  '{reaction}! Did I tell you {thing} {broke}?', '{reaction}. We should go to {place} sometime.',
  '{reaction}. I just want to eat {snack} and sleep.', '{reaction}. {follow}',
];
// biome-ignore format: a word list reads better packed
const GREETINGS = [
  'Hey {Y}! How have you been?', 'Hi {Y}, long time no talk!', 'Morning {Y}! Got a minute?',
  'Hey you, how was your week?', 'Hello hello! What is new with you, {Y}?',
];
// biome-ignore format: a word list reads better packed
const GREETING_REPLIES = [
  'Hey {Y}! I am {mood}, thanks for asking.', 'Hi! Busy but fine, you?', 'Oh hi {Y}! Always, what is up?',
  'Not bad at all, {reaction}. How about you?',
];
// biome-ignore format: a word list reads better packed
const CLOSINGS = [
  'I have to run, dinner is burning. Talk soon!', 'Okay, off to bed. Night!',
  'Gotta go, my meeting is starting. Bye!', 'Right, back to the chaos. Speak later!',
  'Anyway, I should get going. Take care!',
];

/** Fills `{slot}` from the lists (plus the two speakers), choosing anew for every slot. */
function fill(rng: Rng, template: string, extra: Record<string, string> = {}): string {
  const text = template.replace(/\{(\w+)\}/g, (_, key: string) => {
    if (key in extra) return extra[key]!;
    if (key === 'chatCity') return rng.pick(CHAT_CITIES);
    const list = SLOTS[key];
    if (!list) throw new Error(`no slot ${key}`);
    return rng.pick(list);
  });
  // Sentences start with a capital whatever the slot put there.
  return text.replace(/(^|[.!?] )([a-z])/g, (_, pre: string, c: string) => pre + c.toUpperCase());
}

/** One chatter message: a statement or a reply to the last one, often two sentences long. */
function chatterLine(rng: Rng, reply: boolean): string {
  const parts = [fill(rng, rng.pick(reply ? REPLIES : CHATTER))];
  if (rng.next() < 0.85) parts.push(fill(rng, rng.pick(CHATTER)));
  if (rng.next() < 0.35) parts.push(rng.pick(TAILS));
  return parts.join(' ');
}

// ---------------------------------------------------------------------------------------------
// Planted facts: each kind places one or more scripted turns in chosen sessions and asks about them.

type Who = 'X' | 'Y';
interface Script {
  session: number;
  turns: { who: Who; text: string; key?: string }[];
}
interface Plant {
  speaker: number;
  scripts: Script[];
  /** chatter on the same topic that does not answer: said in passing, in any session */
  confuse: string[];
  question: Omit<Question, 'evidence'> & { evidenceKeys: string[] };
}

interface Ctx {
  rng: Rng;
  sessions: number;
  dates: Date[];
  names: [string, string];
  /** one value per list per conversation: a planted fact must not be planted twice */
  take<T>(list: readonly T[]): T;
}

const day = (d: Date) =>
  d.toLocaleDateString('en-GB', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' });

/** sessions a ≤ b with at least `gap` between them */
function twoSessions(c: Ctx, gap: number): [number, number] {
  const a = c.rng.int(0, Math.max(0, c.sessions - 1 - gap));
  return [a, c.rng.int(Math.min(c.sessions - 1, a + gap), c.sessions - 1)];
}
const anySession = (c: Ctx) => c.rng.int(0, c.sessions - 1);

type Kind = (c: Ctx, x: number) => Plant;

const job: Kind = (c, x) => {
  const [title, employer] = c.take(JOBS);
  const month = c.take(MONTHS);
  return {
    speaker: x,
    confuse: [
      'The cost of living here is ridiculous, rent went up again.',
      'My cousin changed careers at forty, brave move.',
      '{neighbour} works from home now and never leaves the house.',
    ],
    scripts: [
      {
        session: anySession(c),
        turns: [
          { who: 'Y', text: 'So how is the new job treating you?' },
          {
            who: 'X',
            key: 'a',
            text: `Really well! I started as a ${title} at ${employer} in ${month}, ${c.rng.pick(JOB_DETAILS)}.`,
          },
        ],
      },
    ],
    question: {
      type: 'paraphrased',
      question: c.rng.pick([
        'What does {X} do for a living?',
        "What is {X}'s profession?",
        'How does {X} earn a living?',
      ]),
      answer: title,
      evidenceKeys: ['a'],
    },
  };
};

const hobby: Kind = (c, x) => {
  const [name, detail] = c.take(HOBBIES);
  return {
    speaker: x,
    confuse: [
      'I never have energy on weeknights, I just collapse on the sofa.',
      'My sister took up knitting recently and now everyone gets scarves.',
      'I should really find a pastime that is not my phone.',
    ],
    scripts: [
      {
        session: anySession(c),
        turns: [
          {
            who: 'X',
            key: 'a',
            text: `I have been going to ${name} classes every ${c.take(WEEKDAYS)} evening, ${detail}.`,
          },
        ],
      },
    ],
    question: {
      type: 'paraphrased',
      question: c.rng.pick([
        'What has {X} been learning to do on weeknights?',
        'Which pastime did {X} take up recently?',
      ]),
      answer: name,
      evidenceKeys: ['a'],
    },
  };
};

const trait: Kind = (c, x) => {
  const t = c.take(TRAITS);
  return {
    speaker: x,
    confuse: t.confuse,
    scripts: [{ session: anySession(c), turns: [{ who: 'X', key: 'a', text: `${t.says}.` }] }],
    question: { type: 'paraphrased', question: t.asks, answer: t.answer, evidenceKeys: ['a'] },
  };
};

const pet: Kind = (c, x) => {
  const [species, adj] = c.take(SPECIES);
  const name = c.take(PET_NAMES);
  return {
    speaker: x,
    confuse: [
      `My cousin's ${species} chewed through a phone charger again.`,
      `There were lost ${species} posters on every lamp post today.`,
      `Do you think a ${species} would be happy in a small flat?`,
    ],
    scripts: [
      {
        session: anySession(c),
        turns: [
          {
            who: 'X',
            key: 'a',
            text: `We adopted a ${adj} ${species} from the shelter, we named it ${name}.`,
          },
          { who: 'Y', text: 'Oh my goodness, send pictures immediately!' },
        ],
      },
    ],
    question: {
      type: 'single-hop',
      question: `What is the name of {X}'s ${species}?`,
      answer: name,
      evidenceKeys: ['a'],
    },
  };
};

const purchase: Kind = (c, x) => {
  const item = c.take(PURCHASES);
  const price = c.rng.int(6, 90) * 10;
  return {
    speaker: x,
    confuse: [
      `My neighbour is selling a ${item}, barely used.`,
      `I read reviews of ${item}s all evening, prices are all over the place.`,
      `Someone at the gym swears by their ${item}, how much do those even cost?`,
    ],
    scripts: [
      {
        session: anySession(c),
        turns: [
          {
            who: 'X',
            key: 'a',
            text: `I finally treated myself to a ${item}, it was $${price} from ${c.rng.pick(SHOPS)}, down from $${price * 2}.`,
          },
        ],
      },
    ],
    question: {
      type: 'single-hop',
      question: `How much did {X} pay for the ${item}?`,
      answer: `$${price}`,
      evidenceKeys: ['a'],
    },
  };
};

const instrument: Kind = (c, x) => {
  const it = c.take(INSTRUMENTS);
  return {
    speaker: x,
    confuse: [
      `My nephew wants to learn the ${it} but his parents said no.`,
      `There was a busker practising the ${it} at the station, very musical.`,
    ],
    scripts: [
      {
        session: anySession(c),
        turns: [
          { who: 'Y', text: 'What is that noise in the background?' },
          {
            who: 'X',
            key: 'a',
            text: `Ha, that is me practising the ${it}, the neighbours are being very patient.`,
          },
        ],
      },
    ],
    question: {
      type: 'single-hop',
      question: 'Which musical instrument is {X} practising?',
      answer: it,
      evidenceKeys: ['a'],
    },
  };
};

const cityUpdate: Kind = (c, x) => {
  const [from, to] = [c.take(FACT_CITIES), c.take(FACT_CITIES)];
  const [a, b] = twoSessions(c, 3);
  return {
    speaker: x,
    confuse: [
      'Rent in {chatCity} is insane, glad I do not live there.',
      'Which city would you live in if you could pick any?',
      'My colleague just moved house and the movers broke her mirror.',
    ],
    scripts: [
      {
        session: a,
        turns: [
          {
            who: 'X',
            text: `I have lived in ${from} for ${c.rng.int(3, 9)} years now and I still love the old town.`,
          },
        ],
      },
      {
        session: b,
        turns: [
          {
            who: 'X',
            key: 'b',
            text: `Big news: I moved from ${from} to ${to} last month, still surrounded by boxes.`,
          },
          { who: 'Y', text: 'Wow, that is huge! How are you settling in?' },
        ],
      },
    ],
    question: {
      type: 'updated',
      question: 'Which city does {X} live in now?',
      answer: to,
      evidenceKeys: ['b'],
    },
  };
};

const carUpdate: Kind = (c, x) => {
  const [old, detail] = c.take(CARS);
  const next = c.take(NEW_CARS);
  const [a, b] = twoSessions(c, 3);
  return {
    speaker: x,
    confuse: [
      'My dad still drives a car older than me.',
      'Car insurance went up again, these days everything does.',
      'I hate driving in the rain, the wipers never keep up.',
    ],
    scripts: [
      {
        session: a,
        turns: [{ who: 'X', text: `My old ${old} broke down again on the way to work, ${detail}.` }],
      },
      {
        session: b,
        turns: [
          { who: 'X', key: 'b', text: `I finally sold the ${old} and bought a ${next}, it is a dream.` },
        ],
      },
    ],
    question: {
      type: 'updated',
      question: 'What car does {X} drive these days?',
      answer: next,
      evidenceKeys: ['b'],
    },
  };
};

const jobUpdate: Kind = (c, x) => {
  const [[t1, e1], [t2, e2]] = [c.take(JOBS), c.take(JOBS)];
  const [a, b] = twoSessions(c, 3);
  return {
    speaker: x,
    confuse: [
      'Half my team is looking for a new job, morale is low.',
      'Work drinks on Friday, are you coming?',
      'My friend handed in her notice without another job lined up.',
    ],
    scripts: [
      { session: a, turns: [{ who: 'X', text: `I work as a ${t1} at ${e1}, it pays the bills.` }] },
      {
        session: b,
        turns: [
          { who: 'X', key: 'b', text: `I handed in my notice at ${e1}. From Monday I am a ${t2} at ${e2}!` },
        ],
      },
    ],
    question: { type: 'updated', question: 'Where does {X} work now?', answer: e2, evidenceKeys: ['b'] },
  };
};

const datedEvent: Kind = (c, x) => {
  const ev = c.take(EVENTS);
  const rel = c.take(RELATIVES);
  const s = c.rng.int(0, Math.max(0, c.sessions - 2));
  const when = new Date(c.dates[s]!.getTime() + c.rng.int(20, 80) * 86_400_000);
  return {
    speaker: x,
    confuse: [
      `My ${rel} is hopeless at remembering dates.`,
      'Wedding season is exhausting, I have three this summer.',
      'I hate giving speeches, my voice goes all wobbly.',
    ],
    scripts: [
      {
        session: s,
        turns: [
          {
            who: 'X',
            key: 'a',
            text: `Save the date: ${ev.says(rel)} is on ${day(when)}, and I am giving a speech.`,
          },
        ],
      },
    ],
    question: {
      type: 'temporal',
      question: `When is {X}${ev.asks.replace('{rel}', rel)}?`,
      answer: day(when),
      evidenceKeys: ['a'],
    },
  };
};

const achievement: Kind = (c, x) => {
  const a = c.take(ACHIEVEMENTS);
  const [phrase, back] = c.take(RELATIVE_TIMES);
  const s = anySession(c);
  const when = new Date(c.dates[s]!.getTime() - back * 86_400_000);
  return {
    speaker: x,
    confuse: a.confuse,
    scripts: [{ session: s, turns: [{ who: 'X', key: 'a', text: `${phrase} ${a.did}!` }] }],
    question: {
      type: 'temporal',
      question: `When did {X} ${a.ask}?`,
      answer: `around ${day(when)} (${phrase.toLowerCase()}, said on ${day(c.dates[s]!)})`,
      evidenceKeys: ['a'],
    },
  };
};

const giftFriend: Kind = (c, x) => {
  const friend = c.take(FRIENDS);
  const gift = c.take(GIFTS);
  const city = c.take(FACT_CITIES);
  const [a, b] = twoSessions(c, 2);
  return {
    speaker: x,
    confuse: [
      `I need a birthday present idea, maybe a ${gift}?`,
      `${friend} says hi, by the way.`,
      'My friend from school lives in a city I cannot pronounce.',
    ],
    scripts: [
      {
        session: a,
        turns: [
          { who: 'X', key: 'a', text: `My friend ${friend} gave me a ${gift} for my birthday, I adore it.` },
        ],
      },
      {
        session: b,
        turns: [
          { who: 'Y', text: `How is ${friend} doing these days?` },
          {
            who: 'X',
            key: 'b',
            text: `Great! ${friend} moved to ${city} and works at ${c.rng.pick(FRIEND_PLACES)} there.`,
          },
        ],
      },
    ],
    question: {
      type: 'multi-hop',
      question: `In which city does the friend who gave {X} a ${gift} live?`,
      answer: city,
      evidenceKeys: ['a', 'b'],
    },
  };
};

const relativeVisit: Kind = (c, x) => {
  const rel = c.take(RELATIVES);
  const name = c.take(RELATIVE_NAMES);
  const city = c.take(FACT_CITIES);
  const [trade] = c.take(JOBS);
  const [a, b] = twoSessions(c, 2);
  return {
    speaker: x,
    confuse: [
      `My ${rel} is terrible at replying to messages.`,
      `Flights from ${city} are so expensive right now.`,
      'My in-laws are flying in for Christmas, wish me luck.',
    ],
    scripts: [
      {
        session: a,
        turns: [
          {
            who: 'X',
            key: 'a',
            text: `My ${rel} ${name} just qualified as a ${trade}, we are all so proud.`,
          },
        ],
      },
      {
        session: b,
        turns: [
          { who: 'X', key: 'b', text: `${name} is coming to stay next month, flying in from ${city}.` },
        ],
      },
    ],
    question: {
      type: 'multi-hop',
      question: `Which city is {X}'s ${rel} flying in from?`,
      answer: city,
      evidenceKeys: ['a', 'b'],
    },
  };
};

/** the answer sits in the reply; the question turn says what it is about */
const anniversary: Kind = (c, x) => {
  const [name, cuisine, dish] = c.take(RESTAURANTS);
  return {
    speaker: x,
    confuse: [
      'We should try that new restaurant by the park.',
      'Their anniversary party was lovely, lots of dancing.',
      'I picked the wrong restaurant for the team dinner, it was dreadful.',
    ],
    scripts: [
      {
        session: anySession(c),
        turns: [
          { who: 'Y', key: 'a', text: 'Where did you two end up going for your anniversary dinner?' },
          {
            who: 'X',
            key: 'b',
            text: `${name}, the ${cuisine} place by the ${c.rng.pick(LANDMARKS)}. The ${dish} was unreal.`,
          },
        ],
      },
    ],
    question: {
      type: 'multi-hop',
      question: 'Which restaurant did {X} pick to celebrate the anniversary?',
      answer: name,
      evidenceKeys: ['a', 'b'],
    },
  };
};

/** per conversation: 3 single-hop, 3 multi-hop, 3 temporal, 2 updated, 3 paraphrased */
const KINDS: Kind[] = [
  pet,
  purchase,
  instrument,
  giftFriend,
  relativeVisit,
  anniversary,
  datedEvent,
  achievement,
  achievement,
  cityUpdate,
  job,
  hobby,
  trait,
];

// ---------------------------------------------------------------------------------------------

const BASE = Date.UTC(2023, 2, 6, 17, 0, 0);
const MINUTE = 60_000;

export function generateCorpus(opts: CorpusOptions): Conversation[] {
  return Array.from({ length: opts.conversations }, (_, i) =>
    conversation(opts.seed * 1000 + i, i, opts.quick ?? false),
  );
}

function conversation(seed: number, index: number, quick: boolean): Conversation {
  const rng = prng(seed);
  const a = rng.pick(NAMES);
  let b = rng.pick(NAMES);
  while (b === a) b = rng.pick(NAMES);
  const names: [string, string] = [a, b];

  // Sessions days or weeks apart, in the evening; sized so that a conversation has ~400-700 turns.
  const sessions = quick ? rng.int(6, 8) : rng.int(15, 30);
  const target = quick ? rng.int(150, 220) : rng.int(450, 700);
  const dates: Date[] = [];
  let t = BASE + rng.int(0, 60) * 86_400_000;
  for (let s = 0; s < sessions; s++) {
    dates.push(new Date(t + rng.int(0, 180) * MINUTE));
    t += rng.int(2, 16) * 86_400_000;
  }

  const used = new Map<readonly unknown[], Set<number>>();
  const ctx: Ctx = {
    rng,
    sessions,
    dates,
    names,
    take(list) {
      const seen = used.get(list) ?? new Set<number>();
      used.set(list, seen);
      if (seen.size >= list.length) throw new Error('a word list ran out of values');
      let k = rng.int(0, list.length - 1);
      while (seen.has(k)) k = (k + 1) % list.length;
      seen.add(k);
      return list[k]!;
    },
  };
  // Who each fact is about: alternate so that both speakers carry facts; a job update is asked
  // about the speaker whose job was not asked about (two answers to one question otherwise).
  const plants = KINDS.map((kind, k) => kind(ctx, (k + index) % 2));
  const jobSpeaker = (KINDS.indexOf(job) + index) % 2;
  plants.push(rng.next() < 0.5 ? jobUpdate(ctx, 1 - jobSpeaker) : carUpdate(ctx, rng.int(0, 1)));

  for (const p of plants) {
    for (const text of p.confuse) {
      const who: Who = rng.next() < 0.5 ? 'X' : 'Y';
      p.scripts.push({ session: rng.int(0, sessions - 1), turns: [{ who, text: fill(rng, text) }] });
    }
  }

  const bySession = new Map<number, { plant: number; script: Script }[]>();
  plants.forEach((p, plant) => {
    for (const script of p.scripts) {
      const list = bySession.get(script.session) ?? [];
      list.push({ plant, script });
      bySession.set(script.session, list);
    }
  });

  const turns: Turn[] = [];
  const keyToId = new Map<string, string>();
  for (let s = 0; s < sessions; s++) {
    const planted = bySession.get(s) ?? [];
    const size = Math.max(15, Math.min(40, Math.round(target / sessions) + rng.int(-5, 5)));
    const chatter = Math.max(4, size - 4 - planted.reduce((n, p) => n + p.script.turns.length, 0));
    // Where each planted script goes among the chatter turns.
    const slots = planted.map(() => rng.int(0, chatter - 1));
    let at = dates[s]!.getTime();
    let n = 0;
    let last = rng.int(0, 1);
    const say = (speaker: number, text: string) => {
      n++;
      at += rng.int(1, 6) * MINUTE;
      turns.push({ id: `D${s + 1}:${n}`, speaker: names[speaker]!, text, at: new Date(at).toISOString() });
      last = speaker;
    };
    const other = (sp: number) => names[1 - sp]!;
    say(last, fill(rng, rng.pick(GREETINGS), { Y: other(last) }));
    say(1 - last, fill(rng, rng.pick(GREETING_REPLIES), { Y: other(1 - last) }));
    for (let k = 0; k < chatter; k++) {
      planted.forEach(({ plant, script }, j) => {
        if (slots[j] !== k) return;
        const x = plants[plant]!.speaker;
        for (const turn of script.turns) {
          say(turn.who === 'X' ? x : 1 - x, turn.text);
          if (turn.key) keyToId.set(`${plant}:${turn.key}`, turns.at(-1)!.id);
        }
      });
      // Mostly alternating statements and replies, now and then two messages in a row.
      const speaker = rng.next() < 0.85 ? 1 - last : last;
      say(speaker, chatterLine(rng, speaker !== last && rng.next() < 0.45));
    }
    say(1 - last, rng.pick(CLOSINGS));
    say(1 - last, fill(rng, '{reaction}, bye {Y}!', { Y: other(1 - last) }));
  }

  const questions = plants.map((p, plant): Question => {
    const x = names[p.speaker]!;
    const { evidenceKeys, ...q } = p.question;
    return {
      ...q,
      question: q.question.replaceAll('{X}', x),
      evidence: evidenceKeys.map((k) => {
        const id = keyToId.get(`${plant}:${k}`);
        if (!id) throw new Error(`evidence ${plant}:${k} was not placed`);
        return id;
      }),
    };
  });
  return { id: `c${index + 1}`, speakers: names, turns, questions };
}
