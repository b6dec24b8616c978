/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <sys/random.h>

#include "postern-address-generator.h"

/*
 * Entropy (docs/addresses.md):
 * RANDOM: 11 symbols from a 31-symbol alphabet, 11 × log2 31 ≈ 54.49 bits.
 * WORDS: 3 words from WORDS plus 3 digits,
 *   3 × log2 N + 3 × log2 10 (about 41.8 bits with the list below).
 * Every symbol, word and number is drawn uniformly with
 * postern_random_uniform(), so these figures are exact.
 */

#define RANDOM_LENGTH 11
#define WORDS_COUNT   3
#define WORDS_DIGITS  3
#define WORDS_NUMBERS 1000 /* 10^WORDS_DIGITS */

/* No 0/o, 1/l/i: the address is read aloud, typed from a card and copied
 * off a screen. */
static const char random_alphabet[] = "23456789abcdefghjkmnpqrstuvwxyz";

G_STATIC_ASSERT (sizeof random_alphabet - 1 == 31);

/* Short, common, concrete English words, one spelling in British and
 * American English, no homophone pairs (flour/flower), nothing offensive
 * or violent. Sorted; tests check that they are unique and lower case. */
static const char *const words[] = {
  "able", "acid", "acorn", "acre", "actor", "adapt", "add", "admit", "adult", "affix", "agent",
  "agree", "ahead", "aim", "air", "alarm", "album", "alert", "alien", "alley", "allow", "alpha",
  "amber", "amend", "amount", "ample", "anchor", "angle", "ankle", "answer", "apart", "apple",
  "april", "apron", "arcade", "arch", "arena", "argue", "arise", "army", "aroma", "arrow", "art",
  "artist", "ash", "aside", "ask", "aspen", "atlas", "atom", "attic", "audio", "august", "aunt",
  "autumn", "avocado", "avoid", "awake", "award", "aware", "axis", "baby", "back", "bacon",
  "badge", "bag", "bagel", "bake", "baker", "balance", "balcony", "bald", "ball", "ballet",
  "bamboo", "banana", "band", "banjo", "bank", "barn", "barrel", "basalt", "basil", "basin",
  "basket", "bath", "beach", "beacon", "beam", "bean", "beard", "beast", "bed", "bee", "beef",
  "beetle", "begin", "bell", "belt", "bench", "berry", "bike", "bird", "birth", "biscuit", "bison",
  "black", "blade", "blank", "blast", "blaze", "blend", "bless", "blink", "block", "bloom",
  "blossom", "blue", "blunt", "blush", "board", "boat", "body", "boil", "bolt", "bonnet", "bonus",
  "book", "boost", "boot", "border", "bottle", "bottom", "bounce", "bowl", "box", "brain", "brake",
  "branch", "brass", "brave", "bread", "break", "breeze", "brick", "bride", "bridge", "brief",
  "bright", "bring", "brisk", "broad", "bronze", "brook", "broom", "brown", "brush", "bubble",
  "bucket", "buddy", "budget", "buffalo", "bugle", "build", "bulb", "bulk", "bunch", "bundle",
  "bunny", "burrow", "burst", "bus", "bush", "butler", "butter", "button", "buyer", "buzz",
  "cabbage", "cabin", "cable", "cactus", "cage", "cake", "calm", "camel", "camera", "camp",
  "camper", "canal", "candle", "candy", "canoe", "canvas", "canyon", "cape", "caramel", "card",
  "cargo", "carpet", "carrot", "carry", "cart", "case", "cashew", "castle", "cat", "catch",
  "cattle", "cause", "cave", "cedar", "celery", "cell", "cello", "cement", "cereal", "chain",
  "chair", "chalk", "chapel", "charm", "chart", "chase", "cheap", "check", "cheek", "cheese",
  "chef", "cherry", "chess", "chest", "chick", "chief", "child", "chili", "chimney", "chin",
  "chip", "choice", "chorus", "chunk", "cider", "cinema", "cinnamon", "circle", "citrus", "city",
  "civic", "claim", "clam", "clap", "clarinet", "class", "claw", "clay", "clean", "clear", "clerk",
  "clever", "click", "cliff", "climb", "clock", "close", "cloth", "cloud", "clover", "club",
  "clue", "coach", "coast", "coat", "cobalt", "cobweb", "cocoa", "coconut", "code", "coffee",
  "coil", "coin", "cold", "collar", "colony", "comb", "comet", "comic", "common", "compass",
  "condor", "cook", "cookie", "cool", "copper", "copy", "coral", "cord", "core", "corn", "corner",
  "cosmos", "cottage", "cotton", "couch", "cough", "count", "cousin", "cover", "cow", "coyote",
  "crab", "craft", "crane", "crate", "crater", "crayon", "cream", "credit", "creek", "crew",
  "cricket", "crimson", "crisp", "crop", "cross", "crowd", "crown", "cruise", "crumb", "crust",
  "cube", "cup", "cupboard", "cupcake", "curl", "curry", "curve", "cushion", "custom", "cycle",
  "daisy", "damp", "dance", "dancer", "dare", "dash", "data", "dawn", "deal", "debate", "decade",
  "deck", "decor", "deep", "deer", "degree", "delta", "demand", "denim", "dentist", "depth",
  "desert", "design", "desk", "detail", "dial", "diamond", "diary", "dice", "diet", "dig",
  "dinner", "dinosaur", "dish", "dive", "dock", "doctor", "dog", "doll", "dollar", "dolphin",
  "domain", "donkey", "door", "dose", "double", "dough", "dove", "down", "dozen", "draft",
  "dragon", "drama", "draw", "dream", "dress", "drift", "drill", "drink", "drive", "drop", "drum",
  "duck", "dune", "dust", "duty", "eagle", "early", "earth", "easel", "east", "easy", "echo",
  "eclipse", "edge", "editor", "effort", "egg", "eight", "elbow", "elder", "elect", "elephant",
  "elevator", "elk", "elm", "ember", "emerald", "empty", "engine", "enjoy", "enter", "entry",
  "equal", "erase", "error", "escape", "essay", "even", "event", "exact", "exam", "exit", "expert",
  "extra", "fabric", "face", "fact", "fade", "fair", "faith", "falcon", "fall", "family", "fancy",
  "farm", "fast", "fault", "feast", "feather", "feline", "fence", "fern", "ferry", "festival",
  "fever", "fiber", "fiddle", "field", "fifty", "film", "final", "finch", "find", "finger", "fire",
  "firm", "first", "fish", "fit", "five", "fjord", "flag", "flame", "flamingo", "flannel", "flash",
  "flat", "fleet", "flight", "float", "flock", "floor", "flower", "fluid", "flute", "foam",
  "focus", "fog", "folk", "food", "foot", "force", "forest", "fork", "form", "fort", "forty",
  "forum", "fossil", "fountain", "fox", "frame", "fresh", "friend", "frog", "front", "frost",
  "fruit", "fuel", "fun", "funny", "fur", "future", "gadget", "galaxy", "gallery", "game",
  "garage", "garden", "garlic", "gate", "gather", "gauge", "gazebo", "gear", "gecko", "gem",
  "gentle", "geyser", "ghost", "giant", "gift", "ginger", "giraffe", "glacier", "glad", "glass",
  "glide", "globe", "glory", "glove", "glow", "glue", "goat", "goblet", "gold", "golf", "gondola",
  "good", "goose", "gorilla", "gospel", "grain", "granite", "grant", "grape", "graph", "grass",
  "gravel", "gravy", "great", "green", "grid", "grill", "grin", "grip", "grocery", "ground",
  "group", "grove", "grow", "guard", "guess", "guest", "guide", "guitar", "gulf", "gust", "habit",
  "hair", "half", "hall", "hammer", "hamster", "hand", "happy", "hard", "harmony", "harp",
  "harvest", "hat", "hatch", "hawk", "hazard", "hazel", "head", "health", "heart", "heat", "hedge",
  "height", "hello", "helmet", "help", "hen", "herb", "hermit", "hero", "heron", "hiking", "hill",
  "hint", "hobby", "hockey", "holiday", "hollow", "home", "honey", "hood", "hook", "hope",
  "horizon", "horn", "hornet", "horse", "host", "hotel", "hour", "house", "hover", "hub", "hug",
  "humble", "hundred", "hunt", "hurry", "husky", "hut", "ice", "iceberg", "icon", "idea", "igloo",
  "image", "impact", "inch", "index", "indoor", "ink", "inlet", "input", "insect", "inside",
  "insight", "invite", "iron", "island", "item", "ivory", "ivy", "jacket", "jaguar", "jam", "jar",
  "jasmine", "jazz", "jeans", "jelly", "jet", "jewel", "jigsaw", "job", "jog", "join", "joke",
  "journey", "joy", "judge", "juice", "jump", "jungle", "junior", "juniper", "jury", "just",
  "kale", "kayak", "keen", "keep", "kernel", "kettle", "key", "kick", "kid", "kind", "king",
  "kiosk", "kit", "kitchen", "kite", "kitten", "kiwi", "knee", "knit", "knock", "koala", "label",
  "lace", "ladder", "lady", "lagoon", "lake", "lamb", "lamp", "land", "lane", "lantern", "laptop",
  "large", "laser", "latch", "late", "lattice", "laugh", "lava", "lavender", "lawn", "layer",
  "leaf", "lean", "learn", "leather", "lecture", "ledge", "left", "legal", "legend", "lemon",
  "lend", "length", "lens", "leopard", "lesson", "letter", "level", "lever", "library", "lid",
  "lift", "light", "lilac", "lily", "lime", "limit", "linen", "lion", "lip", "liquid", "list",
  "little", "live", "lizard", "llama", "loaf", "lobby", "lobster", "local", "lock", "locket",
  "lodge", "logic", "lonely", "long", "loop", "lotus", "loud", "lounge", "love", "loyal", "lucky",
  "lumber", "lunar", "lunch", "lyric", "machine", "magic", "magnet", "magnolia", "major", "maker",
  "mammoth", "mango", "manor", "mantle", "map", "maple", "marathon", "marble", "march", "margin",
  "marine", "market", "marsh", "mask", "mason", "match", "math", "matter", "maze", "meadow",
  "meal", "medal", "melody", "melon", "member", "memo", "menu", "merit", "merry", "mesh", "metal",
  "meteor", "meter", "middle", "mild", "milk", "mill", "mimic", "mind", "mineral", "minor",
  "minute", "mirror", "mist", "mitten", "mix", "model", "modern", "moment", "money", "monkey",
  "monsoon", "month", "moon", "moose", "morning", "mosaic", "mosquito", "moss", "motel", "mother",
  "motion", "motor", "mount", "mouse", "mouth", "movie", "mud", "muffin", "mule", "muscle",
  "museum", "music", "mustang", "mustard", "nail", "name", "napkin", "narrow", "nation", "native",
  "nature", "navy", "near", "neat", "neck", "nectar", "needle", "nephew", "nerve", "nest", "net",
  "network", "neutral", "new", "next", "nice", "niece", "night", "nimble", "noble", "noise",
  "noodle", "normal", "north", "nose", "note", "notice", "novel", "nugget", "number", "nurse",
  "nut", "nutmeg", "nylon", "oak", "oasis", "oat", "oatmeal", "ocean", "october", "octopus", "odd",
  "offer", "office", "often", "oil", "okay", "old", "olive", "omega", "onion", "online", "open",
  "opera", "orange", "orbit", "orchard", "orchid", "order", "organ", "origin", "ostrich", "otter",
  "outer", "outlet", "oval", "oven", "over", "owl", "owner", "oxygen", "oyster", "pack", "paddle",
  "paddock", "page", "paint", "palace", "palm", "pancake", "panda", "panel", "panic", "panther",
  "papaya", "paper", "parade", "parent", "park", "parrot", "parsley", "party", "pass", "pasta",
  "paste", "path", "patio", "pause", "peach", "peacock", "peak", "peanut", "pear", "pebble",
  "pedal", "pelican", "pen", "pencil", "pepper", "perfect", "permit", "person", "pet", "phone",
  "photo", "piano", "pickle", "picnic", "picture", "pie", "piece", "pigeon", "pigment", "pilot",
  "pine", "pinecone", "pink", "pioneer", "pipe", "pitch", "pizza", "place", "plain", "planet",
  "plant", "plate", "plateau", "play", "plaza", "pledge", "plenty", "plot", "plum", "plumber",
  "plus", "pocket", "poem", "poet", "point", "polar", "police", "pollen", "pond", "pony", "poodle",
  "pool", "popcorn", "poppy", "porch", "port", "post", "potato", "pottery", "pouch", "powder",
  "power", "prairie", "press", "pretty", "pretzel", "price", "pride", "prince", "print", "prize",
  "profit", "proof", "proud", "prune", "public", "puddle", "puffin", "pulse", "pumpkin", "punch",
  "pupil", "puppy", "purple", "puzzle", "pyramid", "quack", "quail", "quarter", "quartz", "queen",
  "quest", "quick", "quiet", "quilt", "quiver", "quiz", "quota", "rabbit", "raccoon", "race",
  "radar", "radio", "radish", "raft", "rail", "rain", "rainbow", "raise", "raisin", "rally",
  "ramp", "ranch", "range", "rapid", "rare", "raven", "ready", "reason", "recipe", "recital",
  "record", "red", "reef", "reflex", "region", "reindeer", "relax", "relay", "remote", "rent",
  "repair", "reply", "report", "rescue", "rest", "result", "retire", "review", "reward", "rhythm",
  "ribbon", "rice", "rich", "riddle", "ride", "ridge", "rigid", "ring", "ripple", "rise", "river",
  "road", "roast", "robin", "robot", "rock", "rocket", "rodeo", "roof", "room", "rooster", "root",
  "rope", "rose", "rotate", "round", "route", "rover", "royal", "ruby", "rug", "ruler", "rumble",
  "rural", "rust", "saddle", "safe", "saffron", "saga", "sailor", "salad", "salmon", "salt",
  "sample", "sand", "sandal", "sapphire", "satin", "sauce", "sausage", "savory", "scale",
  "scallop", "scarf", "scene", "school", "science", "scoop", "scout", "screen", "script", "scroll",
  "seal", "season", "seat", "second", "secret", "section", "seed", "select", "senior", "sense",
  "sequoia", "series", "seven", "shadow", "shape", "share", "shark", "sharp", "shelf", "shell",
  "sherbet", "shield", "shift", "shine", "ship", "shirt", "shore", "short", "shovel", "shower",
  "shrimp", "shuttle", "side", "sign", "signal", "silk", "silver", "simple", "singer", "siren",
  "sister", "size", "skate", "sketch", "ski", "skill", "skirt", "sky", "skyline", "slate", "sled",
  "sleep", "sleeve", "slice", "slide", "slope", "sloth", "slow", "small", "smart", "smile",
  "smoke", "smooth", "snack", "snail", "snake", "snow", "snowman", "soap", "soccer", "sock",
  "soda", "sofa", "soft", "solar", "solid", "song", "sonic", "soup", "south", "space", "spark",
  "sparrow", "speak", "spice", "spider", "spinach", "spinner", "spirit", "splash", "sponge",
  "spoon", "sport", "spot", "spray", "spring", "sprout", "spruce", "square", "squash", "squirrel",
  "stable", "stadium", "staff", "stage", "stairs", "stallion", "stamp", "stand", "star",
  "starfish", "start", "station", "statue", "steady", "steam", "steel", "stem", "step", "stereo",
  "stick", "still", "stone", "stool", "storm", "story", "stove", "straw", "stream", "street",
  "stripe", "strong", "studio", "style", "sugar", "suit", "summer", "summit", "sun", "sunny",
  "sunset", "super", "supply", "surf", "surfer", "swamp", "swan", "sweater", "sweet", "swift",
  "swim", "swing", "switch", "symbol", "syrup", "system", "table", "tablet", "tackle", "tadpole",
  "tail", "talent", "talk", "tall", "tango", "tank", "tape", "target", "task", "taste", "taxi",
  "tea", "teacher", "teacup", "team", "teapot", "temple", "tempo", "ten", "tennis", "tent", "term",
  "test", "text", "thank", "theme", "thick", "thimble", "thing", "thirty", "thistle", "thread",
  "three", "thumb", "thunder", "ticket", "tide", "tidy", "tiger", "tile", "timber", "time", "tiny",
  "tip", "title", "toast", "today", "token", "tomato", "tone", "tongue", "tool", "tooth", "topic",
  "torch", "total", "toucan", "tower", "town", "toy", "track", "trade", "traffic", "trail",
  "train", "tray", "treat", "tree", "trellis", "trend", "trial", "tribe", "trick", "trip",
  "trolley", "trophy", "truck", "truffle", "trumpet", "trunk", "trust", "truth", "tuba", "tugboat",
  "tulip", "tuna", "tundra", "tunnel", "turkey", "turn", "turnip", "turtle", "tutor", "tuxedo",
  "twelve", "twenty", "twin", "twist", "type", "umbrella", "uncle", "under", "unicorn", "union",
  "unison", "unit", "unlock", "update", "upper", "upset", "urban", "usage", "useful", "usual",
  "utensil", "vacuum", "valid", "valley", "value", "valve", "vanilla", "vase", "vault", "velvet",
  "vendor", "venue", "verb", "verse", "vessel", "veteran", "video", "view", "viking", "village",
  "vinyl", "violin", "visit", "visual", "vital", "vivid", "vocal", "voice", "volume", "vote",
  "voyage", "vulture", "wafer", "waffle", "wagon", "waist", "walk", "wall", "walnut", "walrus",
  "wand", "warm", "wash", "watch", "water", "wave", "wax", "wealth", "weasel", "weather",
  "weekend", "welcome", "west", "wetland", "whale", "wheat", "wheel", "whisk", "whistle", "white",
  "wide", "width", "wild", "willow", "window", "wing", "winner", "winter", "wire", "wise",
  "wizard", "wolf", "wombat", "wonder", "wood", "woodland", "wool", "word", "work", "world",
  "worth", "wrist", "yacht", "yard", "year", "yellow", "yodel", "yoga", "young", "youth", "zebra",
  "zero", "zigzag", "zinc", "zipper", "zone", "zoo",
  NULL
};

void
postern_random_bytes (void *buffer,
                      gsize length)
{
  guint8 *p = buffer;

  g_return_if_fail (buffer != NULL || length == 0);

  while (length > 0)
    {
      ssize_t n = getrandom (p, length, 0);

      if (n < 0)
        {
          int saved_errno = errno;

          if (saved_errno == EINTR)
            continue;

          /* There is no safe fallback for an address or id generator. */
          g_error ("getrandom() failed: %s", g_strerror (saved_errno));
        }

      p += n;
      length -= (gsize)n;
    }
}

guint32
postern_random_uniform (guint32 upper_bound)
{
  guint32 limit;
  guint32 value;

  g_return_val_if_fail (upper_bound > 0, 0);

  /* Accept only values below the largest multiple of @upper_bound that
   * fits in 32 bits; (2^32 - upper_bound) % upper_bound == 2^32 % upper_bound. */
  limit = G_MAXUINT32 - ((G_MAXUINT32 - upper_bound + 1) % upper_bound);

  do
    postern_random_bytes (&value, sizeof value);
  while (value > limit);

  return value % upper_bound;
}

const char *const *
postern_address_get_words (guint *n_words)
{
  if (n_words != NULL)
    *n_words = G_N_ELEMENTS (words) - 1;

  return words;
}

char *
postern_address_generate_local_part (PosternAddressStyle style)
{
  GString *out = g_string_new (NULL);

  switch (style)
    {
      case POSTERN_ADDRESS_STYLE_WORDS:
        for (guint i = 0; i < WORDS_COUNT; i++)
          {
            g_string_append (out, words[postern_random_uniform (G_N_ELEMENTS (words) - 1)]);
            g_string_append_c (out, '-');
          }
        g_string_append_printf (out, "%0*u", WORDS_DIGITS, postern_random_uniform (WORDS_NUMBERS));
        break;

      case POSTERN_ADDRESS_STYLE_RANDOM:
      default:
        for (guint i = 0; i < RANDOM_LENGTH; i++)
          g_string_append_c (out, random_alphabet[postern_random_uniform (sizeof random_alphabet - 1)]);
        break;
    }

  return g_string_free (out, FALSE);
}

double
postern_address_style_entropy_bits (PosternAddressStyle style)
{
  switch (style)
    {
      case POSTERN_ADDRESS_STYLE_WORDS:
        return WORDS_COUNT * log2 ((double)(G_N_ELEMENTS (words) - 1)) + log2 ((double)WORDS_NUMBERS);

      case POSTERN_ADDRESS_STYLE_RANDOM:
      default:
        return RANDOM_LENGTH * log2 ((double)(sizeof random_alphabet - 1));
    }
}
