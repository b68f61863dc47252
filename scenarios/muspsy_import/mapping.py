"""From parsed MusPsy memory blocks to a ``CaseProfile`` mapping, with small transparent heuristics.

Static traits come from the first kept session that has them ([Personal Profile],
[Personal Characteristics], [Assessment and Diagnosis]); MusPsy repeats them in every block.

* pseudonym: an explicit ``Name:`` field, else the name the personal profile opens with
  ("Lin Feng is a ..."), else the counselor's greeting in the dialogues ("Hi Li,"),
  else the name most often written possessively in the memories ("Li's"), else ``Client N``.
* gender: an explicit field, else "is a woman/man/girl/boy/...", else the majority of
  she/her vs he/him/his pronouns in the memory text (at least 2 and twice the other side),
  else ``unspecified``.
* age: an explicit number ("Age: 25", "25-year-old", "aged 25"), else a decade phrase
  ("in her thirties" -> 35), else a life-stage estimate (``LIFE_STAGE_AGES``), else 30.
* occupation: an explicit field, else "... student" / "works as ..." / "is a <job word>",
  else ``unknown``.
* speaking_style: keywords in the personal characteristics (``STYLE_CUES``), else ``plain``.
* automatic_thoughts: quoted thoughts in the memory text; core_beliefs: "believes that X".
* distress (``estimate_distress``): 4, plus 1.5 for each strong distress word (at most 2),
  plus 0.5 for each moderate one (at most 6), minus 0.5 for each easing one (at most 3),
  clamped to 1..9 and rounded to 0.5. It reads session 1's memory and summary text.
"""

from __future__ import annotations

import re

from .memories import MEMORY_KEYS, Block
from .textutil import Log, clip, sentences, spans, squash

DEFAULT_AGE = 30
LIFE_STAGE_AGES = (
    (r"\b(?:primary|elementary) school\b", 11),
    (r"\b(?:junior high|middle school)\b", 14),
    (r"\b(?:high school|secondary school|senior high)\b", 16),
    (r"\b(?:teen(?:ager)?|adolescent)\b", 16),
    (r"\b(?:graduate student|postgraduate|master'?s student|phd|doctoral)\b", 25),
    (r"\b(?:university|college|undergraduate|freshman|sophomore)\b", 20),
    (r"\b(?:young adult|recent graduate|recent hire|first job|new job)\b", 25),
    (r"\b(?:middle-aged|midlife)\b", 45),
    (r"\b(?:student|pupil|classmates?)\b", 18),
    (r"\b(?:retired|retiree|pensioner)\b", 67),
)
STYLE_CUES = (
    (r"\b(?:shy|introvert\w*|reserved|quiet|withdrawn)\b", "quiet and reserved, gives short answers"),
    (r"\b(?:hesitant|hesitat\w*|cautious)\b", "hesitant, hedges before opening up"),
    (r"\b(?:talkative|outgoing|extrovert\w*|sociable|chatty)\b", "talkative and expressive"),
    (r"\b(?:guarded|defensive|suspicious|distrust\w*)\b", "guarded, deflects personal questions"),
    (r"\b(?:analytic\w*|logical|rational)\b", "precise and analytical"),
    (r"\b(?:perfectionis\w*|self-critical)\b", "self-critical, quick to put themselves down"),
    (r"\b(?:humou?r\w*|joking|sarcas\w*)\b", "uses humour to deflect"),
    (r"\b(?:open|candid|frank)\b", "open and direct"),
    (r"\b(?:polite|courteous|respectful)\b", "polite and formal"),
    (r"\b(?:sensitive|expressive)\b", "emotionally expressive"),
)
TOPIC_TAGS = (
    (r"anxi|nervous|panic|worr", "anxiety"),
    (r"depress|hopeless|low mood|loss of interest", "depression"),
    (r"stress|pressure", "stress"),
    (r"self-esteem|self-worth|self-image|self-perception|inadequa|self-doubt|self-critic", "self-esteem"),
    (r"relationship|partner|husband|wife|boyfriend|girlfriend|break-?up|someone (?:she|he) likes|idol", "relationships"),
    (r"famil|parent|mother|father|divorce", "family"),
    (r"exam|academic|school|stud(?:y|ies|ent)|grades|class", "academic"),
    (r"\bwork|job|colleague|workplace|career|project|hire\b", "work"),
    (r"social|lonel|isolat|left out|friends", "social"),
    (r"grief|bereave|passed away|died|death", "grief"),
)
_STRONG = ("hopeless", "suicid", "self-harm", "despair", "panic", "overwhelm", "worthless", "devastat",
           "unbearable", "breakdown", "trauma", "crisis")
_MODERATE = ("anxi", "stress", "sad", "lonel", "fear", "worr", "asham", "shame", "guilt", "frustrat", "helpless",
             "depress", "cry", "insomnia", "isolat", "distress", "upset", "confus", "inadequa", "self-doubt",
             "self-critic", "low self-esteem", "discourag", "pressure", "turmoil")
_EASING = ("calm", "hopeful", "optimis", "confident", "relieved", "mild", "slight", "manageable", "motivated",
           "resilien", "empower")
_EMOTION = re.compile(
    r"\b(?:feel\w*|felt|emotion\w*|mood|anxi\w*|sad\w*|ashamed|shame|guilt\w*|fear\w*|afraid|worr\w*|stress\w*|"
    r"overwhelm\w*|lonel\w*|frustrat\w*|hope\w*|relie\w*|calm\w*|happ\w*|upset|ang(?:ry|er)|distress\w*|nervous\w*|"
    r"tense|empower\w*|proud|pride|optimis\w*|confiden\w*|discourag\w*|helpless\w*|depress\w*)\b",
    re.IGNORECASE,
)
_COGNITION = re.compile(
    r"\b(?:think\w*|thought\w*|belie\w*|percei\w*|percept\w*|perspective\w*|aware\w*|recogni\w*|realiz\w*|"
    r"understand\w*|assum\w*|view\w*|insight\w*|reflect\w*|self-critic\w*|self-image|self-worth|doubt\w*|"
    r"conclu\w*|interpret\w*|mindset|expect\w*|reframe\w*|judg\w*)\b",
    re.IGNORECASE,
)
_GOALISH = re.compile(r"\b(?:goal|aim\w*|focus\w*|plan\w*|agreed|commit\w*|encourag\w*|strateg\w*)\b", re.IGNORECASE)
_RECENT = re.compile(r"\b(?:recent(?:ly)?|last (?:week|month)|this week|past week|since (?:the|our) last)\b", re.IGNORECASE)
_RISK = re.compile(r"suicid|self-harm|self harm|hurt (?:him|her|them)self|kill (?:him|her|them)self|end (?:his|her|their) life", re.I)
_NEGATION = re.compile(r"\b(?:no|not|denies|denied|without|never|absence of)\b", re.IGNORECASE)
_NOT_NAMES = {"The", "User", "Client", "He", "She", "They", "This", "Patient", "Visitor", "A", "An", "Consultant",
              "Counselor", "Counsellor", "Therapist", "CBT", "It", "Her", "His", "Their", "Our", "Session", "I"}


def estimate_distress(text: str) -> tuple[float, list[str]]:
    """Distress 1..9 from keywords in ``text``, and the keywords that counted (see module docs)."""
    low = text.lower()
    strong = [word for word in _STRONG if word in low][:2]
    moderate = [word for word in _MODERATE if word in low][:6]
    easing = [word for word in _EASING if word in low][:3]
    value = 4 + 1.5 * len(strong) + 0.5 * len(moderate) - 0.5 * len(easing)
    return round(min(9.0, max(1.0, value)) * 2) / 2, strong + moderate + [f"-{word}" for word in easing]


def split_state(text: str) -> tuple[str, str]:
    """(emotional, cognitive): sentences about feelings vs thoughts, or the same text twice."""
    parts = sentences(text)
    emotional = [s for s in parts if _EMOTION.search(s)]
    cognitive = [s for s in parts if _COGNITION.search(s)]
    if emotional and cognitive and emotional != cognitive:
        return " ".join(emotional), " ".join(cognitive)
    return squash(text), squash(text)


class _Clipper:
    def __init__(self, log: Log):
        self.log = log
        self.clipped: list[str] = []

    def __call__(self, text: str, limit: int, what: str) -> str:
        result, cut = clip(text, limit)
        if cut:
            self.clipped.append(what)
        return result

    def report(self) -> None:
        if self.clipped:
            self.log.info(f"text shortened to the profile's length limits: {', '.join(self.clipped)}")


def build(number: str, blocks: list[Block], log: Log, greeted: list[str]) -> dict:
    """The profile mapping for client ``number`` (not validated here)."""
    fit = _Clipper(log)
    static_block = next((b for b in blocks if b.has_static), None)
    static = static_block.fields if static_block else {}
    if static_block is None:
        log.fix("no client profile ([Personal Profile] etc.) in any session; static traits from defaults and session text")
    elif any(b.has_static and _static(b) != _static(static_block) for b in blocks):
        log.info(f"client profile differs between sessions; used the one in session {static_block.final}")

    memory_text = " ".join(b.text(key) for b in blocks for key in MEMORY_KEYS if b.text(key))
    profile_text = static.get("profile", "")
    static_text = " ".join(static.get(k, "") for k in ("profile", "characteristics", "assessment"))
    first = blocks[0].fields

    plan = _course(blocks, log, fit)
    distress_text = " ".join(first.get(k, "") for k in ("emotion", "emotional", "cognitive", "observations", "summary"))
    distress, _ = estimate_distress(distress_text or static_text)

    presenting = static.get("assessment") or " ".join(sentences(profile_text)[:2]) or plan[0]["emotional_state"]
    if not static.get("assessment"):
        log.info("no [Assessment and Diagnosis]; presenting problem taken from the " +
                 ("personal profile" if profile_text else "first session's emotional state"))
    background = profile_text or first.get("summary") or presenting
    if not profile_text:
        log.info("no [Personal Profile]; background taken from the first session")
    personality = static.get("characteristics")
    if not personality:
        log.info("no [Personal Characteristics]; personality left as 'not described in the source'")
        personality = "Not described in the source."
    style_source = static.get("characteristics", "")
    style = "; ".join(dict.fromkeys(cue for pattern, cue in STYLE_CUES if re.search(pattern, style_source, re.I)))
    all_text = f"{static_text} {memory_text}"
    tags = ["muspsy", "imported"] + [tag for pattern, tag in TOPIC_TAGS if re.search(pattern, f"{presenting} {profile_text}", re.I)]
    data = {
        "id": f"muspsy-{number}",
        "pseudonym": fit(_pseudonym(number, static, profile_text, memory_text, greeted, log), 80, "pseudonym"),
        "age": _age(static, static_text, log),
        "gender": fit(_gender(static, static_text, memory_text, log), 40, "gender"),
        "occupation": fit(_occupation(static, profile_text, log), 200, "occupation"),
        "presenting_problem": fit(presenting, 1000, "presenting_problem"),
        "background": fit(background, 3000, "background"),
        "personality": fit(personality, 1000, "personality"),
        "speaking_style": fit(style or "plain", 500, "speaking_style"),
        "core_beliefs": [fit(b, 300, "a core belief") for b in _beliefs(all_text, blocks)][:20],
        "automatic_thoughts": [fit(t, 300, "an automatic thought") for t in _thoughts(all_text, blocks)][:20],
        "risk_flags": _risks(all_text),
        "private_facts": [],
        "tags": tags[:20],
        "initial_state": {"distress": distress, "trust": 4.0, "openness": 0.5, "resistance": 0.3},
        "course_plan": plan,
    }
    fit.report()
    return data


def _static(block: Block) -> tuple:
    return tuple(block.text(k) for k in ("profile", "characteristics", "assessment"))


def _course(blocks: list[Block], log: Log, fit: _Clipper) -> list[dict]:
    derived: dict[int, list[str]] = {}
    plan: list[dict] = []
    for block in blocks:
        f = block.fields
        how = derived.setdefault(block.final, [])
        emotional, cognitive = f.get("emotional", ""), f.get("cognitive", "")
        if f.get("emotion") and not (emotional and cognitive):
            e, c = split_state(f["emotion"])
            emotional, cognitive = emotional or e, cognitive or c
        if not (emotional and cognitive):
            source = next((k for k in ("summary", "observations") if f.get(k)), None)
            if source:
                e, c = split_state(f[source])
                how.append(f"emotional/cognitive state taken from the {_NAMES[source]}")
            elif plan:
                e, c = plan[-1]["emotional_state"], plan[-1]["cognitive_state"]
                how.append("emotional/cognitive state carried over from the session before")
            else:
                e = c = "Not recorded in the source."
                how.append("emotional/cognitive state not recorded")
            emotional, cognitive = emotional or e, cognitive or c
        goal = f.get("goal", "")
        if not goal:
            if f.get("summary"):
                parts = sentences(f["summary"])
                goal = next((s for s in parts if _GOALISH.search(s)), " ".join(parts[:2]))
                how.append("goal taken from the Counseling Summary")
            elif f.get("assignments"):
                goal = f["assignments"]
                how.append("goal taken from the counseling assignments")
            elif plan:
                goal = plan[-1]["goal"]
                how.append("goal carried over from the session before")
            else:
                goal = "Build trust and assess the client's concerns."
                how.append("default first-session goal")
        plan.append({
            "life_events": _events(block, first=not plan),
            "emotional_state": fit(emotional, 1000, f"session {block.final} emotional_state"),
            "cognitive_state": fit(cognitive, 1000, f"session {block.final} cognitive_state"),
            "goal": fit(goal, 1000, f"session {block.final} goal"),
            "events_fixed": True,
        })
    grouped: dict[str, list[int]] = {}
    for number, how in derived.items():
        if how:
            grouped.setdefault(", ".join(how), []).append(number)
    for what, numbers in grouped.items():
        log.fix(f"{spans(numbers)}: memory fields missing or empty; {what}")
    return plan


_NAMES = {"summary": "Counseling Summary", "observations": "counselor observations"}


def _events(block: Block, first: bool) -> list[str]:
    f = block.fields
    if f.get("events"):
        parts = [p.strip(" -•*") for p in re.split(r"\n|;|(?<=[.!?])\s+", "\n".join(block.parts["events"]))]
        return [clip(p, 300)[0] for p in parts if p.strip(" -•*")][:20]
    sources = [f.get("profile", "")] if first else [f.get("emotion", ""), f.get("emotional", ""), f.get("observations", "")]
    events = [s for text in sources for s in sentences(text) if _RECENT.search(s)]
    return [clip(s, 300)[0] for s in dict.fromkeys(events)][:20]


def _explicit(static: dict, key: str) -> str:
    return squash(static.get(key, ""))


def _pseudonym(number: str, static: dict, profile: str, memory: str, greeted: list[str], log: Log) -> str:
    if _explicit(static, "name"):
        return _explicit(static, "name")
    match = re.match(r"^\s*([A-Z][a-z'’-]+(?: [A-Z][a-z'’-]+){0,2})\s+(?:is|was|has|had|feels|experiences|struggles|,)\b", profile)
    if match and match[1].split()[0] not in _NOT_NAMES:
        return match[1]
    if greeted:
        log.info(f"pseudonym '{greeted[0]}' taken from the counselor's greetings (the profile names no one)")
        return greeted[0]
    counts: dict[str, int] = {}
    for name in re.findall(r"\b([A-Z][a-z]+(?: [A-Z][a-z]+)?)(?:'s|’s)\b", memory):
        if name.split()[0] not in _NOT_NAMES:
            counts[name] = counts.get(name, 0) + 1
    if counts and max(counts.values()) >= 2:
        name = max(counts, key=counts.get)
        log.info(f"pseudonym '{name}' taken from the session text (the profile names no one)")
        return name
    log.info(f"no name in the source; pseudonym set to 'Client {number}'")
    return f"Client {number}"


def _gender(static: dict, static_text: str, memory: str, log: Log) -> str:
    if _explicit(static, "gender"):
        return _explicit(static, "gender").lower()
    match = re.search(r"\bis an? (?:[\w-]+ ){0,3}?(woman|girl|mother|wife|female|lady|man|boy|father|husband|male|gentleman)\b", static_text, re.I)
    if match:
        return "female" if match[1].lower() in ("woman", "girl", "mother", "wife", "female", "lady") else "male"
    text = f"{static_text} {memory}"
    she = len(re.findall(r"\b(?:she|her|hers|herself)\b", text, re.I))
    he = len(re.findall(r"\b(?:he|him|his|himself)\b", text, re.I))
    if she >= 2 and she >= 2 * he:
        log.info(f"gender 'female' inferred from pronouns ({she} she/her vs {he} he/him)")
        return "female"
    if he >= 2 and he >= 2 * she:
        log.info(f"gender 'male' inferred from pronouns ({he} he/him vs {she} she/her)")
        return "male"
    log.info("gender not stated; set to 'unspecified'")
    return "unspecified"


def _age(static: dict, text: str, log: Log) -> int:
    candidates = [_explicit(static, "age"), text]
    for source in candidates:
        for pattern in (r"^\s*(\d{1,3})\b", r"\bage[d]?\s*[:=]?\s*(\d{1,3})\b", r"\b(\d{1,3})[- ]years?[- ]old\b", r"\b(\d{1,3})\s*(?:yo|y/o)\b"):
            match = re.search(pattern, source, re.I)
            if match and 10 <= int(match[1]) <= 110:
                return int(match[1])
    decades = {"teens": 15, "twenties": 25, "thirties": 35, "forties": 45, "fifties": 55, "sixties": 65, "seventies": 75, "eighties": 85}
    match = re.search(r"\bin (?:his|her|their) (early|mid|late)?[- ]?(teens|twenties|thirties|forties|fifties|sixties|seventies|eighties)\b", text, re.I)
    if match:
        age = decades[match[2].lower()] + {"early": -3, "mid": 0, "late": 3, None: 0}[match[1] and match[1].lower()]
        log.info(f"age estimated as {age} from '{match[0]}'")
        return age
    for pattern, age in LIFE_STAGE_AGES:
        match = re.search(pattern, text, re.I)
        if match:
            log.info(f"age not stated; estimated as {age} from '{match[0]}'")
            return age
    log.info(f"age not stated; default {DEFAULT_AGE} used")
    return DEFAULT_AGE


_JOBS = (r"professional|employee|worker|teacher|nurse|engineer|manager|hire|doctor|designer|programmer|accountant|"
         r"clerk|retiree|homemaker|housewife|freelancer|artist|salesperson|officer|developer|lawyer|driver|chef|"
         r"writer|researcher|intern|civil servant|entrepreneur|businessman|businesswoman|technician|assistant")


def _occupation(static: dict, profile: str, log: Log) -> str:
    if _explicit(static, "occupation"):
        return _explicit(static, "occupation")
    text = " ".join(sentences(profile)[:2])
    patterns = (
        r"\b(?:works|working|employed) as an? ([^,.;]+)",
        rf"\b(?:is|as|was) an? ((?:[a-z-]+ ){{0,2}}(?:{_JOBS})(?: at an? [a-z ]+?(?=[,.;]| where| who| and))?)",
        r"\ban? ((?:[a-z-]+ ){0,3}student)\b",
    )
    for pattern in patterns:
        match = re.search(pattern, text)
        if match:
            return squash(match[1])
    log.info("occupation not stated; set to 'unknown'")
    return "unknown"


def _thoughts(text: str, blocks: list[Block]) -> list[str]:
    explicit = [b.text("thoughts") for b in blocks if b.text("thoughts")]
    if explicit:
        return list(dict.fromkeys(p.strip(" -•*\"“”") for e in explicit for p in re.split(r";|\n", e) if p.strip(" -•*\"“”")))
    quoted = re.findall(r"[\"“]([^\"“”]{8,300}?)[\"”]", text)
    return list(dict.fromkeys(q.strip() for q in quoted if len(q.split()) >= 3))


def _beliefs(text: str, blocks: list[Block]) -> list[str]:
    explicit = [b.text("beliefs") for b in blocks if b.text("beliefs")]
    if explicit:
        return list(dict.fromkeys(p.strip(" -•*") for e in explicit for p in re.split(r";|\n", e) if p.strip(" -•*")))
    found = re.findall(r"\b(?:believes?|core belief) that ([^.;]{8,300})", text, re.I)
    return list(dict.fromkeys(squash(b) for b in found))


def _risks(text: str) -> list[str]:
    for sentence in sentences(text):
        if _RISK.search(sentence) and not _NEGATION.search(sentence):
            return ["the source mentions suicidal thoughts or self-harm; review before use"]
    return []
