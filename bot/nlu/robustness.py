"""Robustness of the NLU on messy real-world Korean (`cleanbot eval robustness`), in the spirit of
CheckList (Ribeiro et al., ACL 2020): every held-out message is rewritten by one perturbation at a time
and the model's intent macro-F1 and entity F1 on the rewritten set are compared with the unperturbed set.

Perturbations are generated here, in code, and are deterministic: each message gets its own
``random.Random`` seeded from the run's seed, the perturbation's name and the message's position, so
a run is reproducible and adding a perturbation does not change the others. A perturbation never
changes what the message means (its intent) nor an entity's normalised value; the entity spans are
recomputed. Free text and entity text are kept apart (``Segment``): typos, spacing and speech-level
changes touch only the text around entities; the brand and order-number perturbations rewrite the
entities themselves.
"""
from __future__ import annotations

import hashlib
import random
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

from bot.nlu.evaluation import Example

DEFAULT_SEED = 14


# ------------------------------------------------------------------------------------------ segments


@dataclass(frozen=True)
class Segment:
    text: str
    entity: Optional[dict] = None   # the annotation without its span; None for the text around entities


def segments(example: Example) -> list[Segment]:
    out, at = [], 0
    for entity in sorted(example.entities, key=lambda e: e["start"]):
        if entity["start"] > at:
            out.append(Segment(example.text[at:entity["start"]]))
        out.append(Segment(example.text[entity["start"]:entity["end"]],
                           {k: v for k, v in entity.items() if k not in ("start", "end")}))
        at = entity["end"]
    if at < len(example.text):
        out.append(Segment(example.text[at:]))
    return out


def join(parts: Sequence[Segment], intent: str) -> Example:
    text, entities = "", []
    for part in parts:
        if part.entity is not None:
            entities.append({**part.entity, "start": len(text), "end": len(text) + len(part.text)})
        text += part.text
    return Example(text, intent, tuple(entities))


def map_free(example: Example, change: Callable[[str], str]) -> Example:
    """Applies `change` to the text between entities (and only there)."""
    return join([p if p.entity is not None else Segment(change(p.text)) for p in segments(example)],
                example.intent)


# ------------------------------------------------------------------------------------------ Hangul

_BASE, _LAST = 0xAC00, 0xD7A3
_INITIALS = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
_VOWELS = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ"
_FINALS = ["", "ㄱ", "ㄲ", "ㄳ", "ㄴ", "ㄵ", "ㄶ", "ㄷ", "ㄹ", "ㄺ", "ㄻ", "ㄼ", "ㄽ", "ㄾ", "ㄿ", "ㅀ", "ㅁ", "ㅂ", "ㅄ",
           "ㅅ", "ㅆ", "ㅇ", "ㅈ", "ㅊ", "ㅋ", "ㅌ", "ㅍ", "ㅎ"]


def is_syllable(char: str) -> bool:
    return _BASE <= ord(char) <= _LAST


def decompose(char: str) -> tuple[int, int, int]:
    code = ord(char) - _BASE
    return code // 588, (code % 588) // 28, code % 28


def compose(initial: int, vowel: int, final: int) -> str:
    return chr(_BASE + initial * 588 + vowel * 28 + final)


# ------------------------------------------------------------------------------------------ perturbations


def remove_spaces(example: Example, rng: random.Random) -> Example:
    """띄어쓰기 없이: every space between words goes (spaces inside an entity, e.g. an order number, stay)."""
    return map_free(example, lambda text: re.sub(r"[ \t]+", "", text))


_WORD_RE = re.compile(r"[가-힣]{3,}")


def split_words(example: Example, rng: random.Random) -> Example:
    """A space inside up to two words of three or more syllables, at a random inner position
    ("환불해주세요" → "환불해 주세요" is fine Korean; "환 불해주세요" is the typo we want)."""
    parts = segments(example)
    words = [(i, m) for i, p in enumerate(parts) if p.entity is None for m in _WORD_RE.finditer(p.text)]
    chosen = sorted(rng.sample(words, min(2, len(words))), key=lambda w: (w[0], -w[1].start()))
    for i, match in chosen:
        cut = match.start() + rng.randrange(1, len(match.group()))
        text = parts[i].text
        parts[i] = Segment(text[:cut] + " " + text[cut:])
    return join(parts, example.intent)


_E_VOWELS = {_VOWELS.index("ㅐ"): _VOWELS.index("ㅔ"), _VOWELS.index("ㅔ"): _VOWELS.index("ㅐ")}
_DOE = {"돼": "되", "되": "돼", "됐": "됬"}
_SILENT = _INITIALS.index("ㅇ")
# finals that move to the next syllable as an initial when it starts with ㅇ (연음: 있어요 → 이써요)
_LIAISON = {"ㄱ": "ㄱ", "ㄴ": "ㄴ", "ㄷ": "ㄷ", "ㄹ": "ㄹ", "ㅁ": "ㅁ", "ㅂ": "ㅂ", "ㅅ": "ㅅ", "ㅈ": "ㅈ", "ㅊ": "ㅊ",
            "ㅌ": "ㅌ", "ㅍ": "ㅍ", "ㅆ": "ㅆ", "ㄲ": "ㄲ"}


def _typo_candidates(text: str) -> list[tuple[int, str, str]]:
    """(position, kind, replacement of text[pos:pos+2] or text[pos]) for every typo the text allows."""
    out = []
    for i, char in enumerate(text):
        if not is_syllable(char):
            continue
        initial, vowel, final = decompose(char)
        if char in _DOE:
            out.append((i, "doe", _DOE[char]))
        elif vowel in _E_VOWELS:
            out.append((i, "ae-e", compose(initial, _E_VOWELS[vowel], final)))
        nxt = text[i + 1] if i + 1 < len(text) else ""
        if final and nxt and is_syllable(nxt) and _FINALS[final] in _LIAISON:
            n_initial, n_vowel, n_final = decompose(nxt)
            if n_initial == _SILENT:
                moved = _INITIALS.index(_LIAISON[_FINALS[final]])
                out.append((i, "liaison", compose(initial, vowel, 0) + compose(moved, n_vowel, n_final)))
    return out


def typos(example: Example, rng: random.Random) -> Example:
    """One or two common misspellings in the text around entities: 되/돼 (돼요 → 되요, 됐 → 됬), ㅐ/ㅔ
    (해요 → 헤요, 네 → 내), and a final consonant written onto the next syllable (jamo moved: 있어요 → 이써요)."""
    parts = segments(example)
    found = [(i, c) for i, p in enumerate(parts) if p.entity is None for c in _typo_candidates(p.text)]
    if not found:
        return example
    picked = rng.sample(found, min(2, len(found)))
    # right to left, so positions stay valid; a liaison covers two syllables, and changes never overlap
    done: dict[int, int] = {}   # part -> leftmost changed position so far
    for i, (pos, kind, new) in sorted(picked, key=lambda c: (c[0], -c[1][0])):
        width = 2 if kind == "liaison" else 1
        if pos + width > done.get(i, len(parts[i].text)):
            continue
        text = parts[i].text
        parts[i] = Segment(text[:pos] + new + text[pos + width:])
        done[i] = pos
    return join(parts, example.intent)


def _has_final(syllable: str) -> bool:
    return is_syllable(syllable) and decompose(syllable)[2] != 0


# 존댓말 → 반말, most specific first; applied once each, left to right.
_BANMAL: tuple[tuple[str, Any], ...] = (
    (r"감사합니다|감사해요|고맙습니다|고마워요", "고마워"),
    (r"안녕하세요|안녕하십니까", "안녕"),
    (r"안녕히 계세요|안녕히 가세요", "잘 있어"),
    (r"수고하세요|수고하셨습니다|수고하셨어요", "수고해"),
    (r"죄송합니다|죄송해요", "미안해"),
    (r"해 주시겠어요|해 주실래요|해 주실 수 있나요|해 주세요|해주세요", "해 줘"),
    (r"주시겠어요|주실래요|주실 수 있나요|주세요", "줘"),
    (r"드릴게요|드리겠습니다", "줄게"),
    (r"드려요", "줘"),
    (r"하세요", "해"),
    (r"([가-힣])(?:입니다|이에요|이예요)", lambda m: m.group(1) + ("이야" if _has_final(m.group(1)) else "야")),
    (r"([가-힣])예요", r"\1야"),
    (r"합니다", "해"),
    (r"됩니다", "돼"),
    (r"습니다", "어"),
    (r"ㅂ니다", "어"),
    (r"있나요|있을까요", "있어"),
    (r"없나요|없을까요", "없어"),
    (r"([가-힣])나요", r"\1나"),
    (r"([가-힣])까요", r"\1까"),
    (r"([가-힣])(어|아|해|돼|줘|게|네|지|야|래|데|걸|죠|까)요", r"\1\2"),
    (r"(?<![가-힣])저는", "나는"),
    (r"(?<![가-힣])제가", "내가"),
    (r"(?<![가-힣])저도", "나도"),
    (r"(?<![가-힣])저를", "나를"),
    (r"(?<![가-힣])저한테", "나한테"),
    (r"(?<![가-힣])제(?= )", "내"),
)
_BANMAL_RE = tuple((re.compile(p), r) for p, r in _BANMAL)


def to_banmal(text: str) -> str:
    for pattern, replacement in _BANMAL_RE:
        text = pattern.sub(replacement, text)
    return text.replace("죠", "지") if text.endswith(("죠", "죠?")) else text


def banmal(example: Example, rng: random.Random) -> Example:
    """존댓말 → 반말: polite endings and humble pronouns rewritten by rule (해 주세요 → 해 줘, 돼요? → 돼?, 제가 → 내가)."""
    return map_free(example, to_banmal)


_FINAL_MARKS_RE = re.compile(r"(?:\s*(?:[.?!~…]+|[\U0001F300-\U0001FAFF\u2600-\u27BF]\ufe0f?))+\s*$")
_ADDED = (".", "!", "~", " 🙏", " 😊", "!!", " 😭")


def punctuation_emoji(example: Example, rng: random.Random) -> Example:
    """Final punctuation and emoji: a message ending in them loses them ("환불돼요?" → "환불돼요"), one ending
    without gets some ("환불해 주세요" → "환불해 주세요 🙏"). A question mark is never added (it could change
    what the message asks)."""
    parts = segments(example)
    last = parts[-1] if parts else Segment("")
    if last.entity is None:
        stripped = _FINAL_MARKS_RE.sub("", last.text)
        if stripped != last.text:
            return join(parts[:-1] + ([Segment(stripped)] if stripped else []), example.intent)
    return join(parts + [Segment(rng.choice(_ADDED))], example.intent)


def _brand_names() -> dict[str, tuple[str, str]]:
    """Canonical brand name → (its first Hangul name, its canonical Latin name)."""
    import yaml

    from bot.nlu.identifier_extractor import resolve_brands_file

    data = yaml.safe_load(resolve_brands_file(None).read_text(encoding="utf-8"))
    out = {}
    for brand in data["brands"]:
        hangul = next((s for s in brand["synonyms"] if re.search(r"[가-힣]", s)), brand["name"])
        out[brand["name"]] = (hangul, brand["name"])
    return out


_BRANDS: Optional[dict[str, tuple[str, str]]] = None


def brand_script(example: Example, rng: random.Random) -> Example:
    """A brand written in Hangul becomes its Latin name (나이키 → Nike), one written in Latin letters its Hangul
    name (LV → 루이비통); brands outside the catalogue stay."""
    global _BRANDS
    if _BRANDS is None:
        _BRANDS = _brand_names()
    parts = []
    for part in segments(example):
        names = _BRANDS.get(str((part.entity or {}).get("value"))) if (part.entity or {}).get("entity") == "brand" \
            else None
        if names:
            hangul, latin = names
            part = Segment(latin if re.search(r"[가-힣]", part.text) else hangul, part.entity)
        parts.append(part)
    return join(parts, example.intent)


_FULL_WIDTH = str.maketrans("0123456789-", "０１２３４５６７８９－")


def order_number_format(example: Example, rng: random.Random) -> Example:
    """An order number written another way: four groups with spaces, with hyphens, or in full-width
    digits (what a Korean IME or a copy from a receipt gives)."""
    parts = []
    for part in segments(example):
        if (part.entity or {}).get("entity") == "order_number":
            digits = re.sub(r"\D", "", unicodedata.normalize("NFKC", part.text))
            groups = [digits[i:i + 4] for i in range(0, len(digits), 4)]
            styles = [" ".join(groups), "-".join(groups), digits.translate(_FULL_WIDTH)]
            part = Segment(rng.choice([s for s in styles if s != part.text]), part.entity)
        parts.append(part)
    return join(parts, example.intent)


# Sentences of an everyday story with nothing in them about counterfeits, refunds, reports or the bot.
STORY = (
    "요즘 회사 일이 너무 많아서 정신이 하나도 없어요.",
    "어제는 퇴근하고 친구랑 저녁을 먹었는데 비가 와서 좀 늦게 들어갔어요.",
    "주말에는 오랜만에 부모님 댁에 다녀왔고요.",
    "날씨가 갑자기 추워져서 감기 기운도 조금 있어요.",
    "출근길 지하철이 너무 붐벼서 아침부터 피곤했어요.",
    "동생이 이번에 이사를 해서 짐 옮기는 걸 도와주느라 며칠 바빴어요.",
    "점심은 회사 근처 김치찌개 집에서 먹었는데 맛있었어요.",
    "요새 운동을 시작해서 저녁마다 공원을 한 시간씩 걷고 있어요.",
    "아이가 다음 주에 소풍을 간다고 해서 도시락 메뉴를 고민 중이에요.",
    "휴대폰으로 이것저것 보다 보니 벌써 밤 열두 시가 넘었더라고요.",
    "지난달에는 가족 여행으로 바닷가에 다녀왔어요.",
    "커피를 너무 많이 마셔서 그런지 잠이 잘 안 와요.",
)
STORY_MIN, STORY_MAX = 200, 400


def long_story(example: Example, rng: random.Random) -> Example:
    """The message at the end of a 200–400-character everyday story that has nothing to do with it."""
    order = rng.sample(STORY, len(STORY))
    prefix = ""
    for sentence in order:
        if len(prefix) + len(example.text) >= STORY_MIN:
            break
        candidate = prefix + sentence + " "
        if len(candidate) + len(example.text) > STORY_MAX:
            break
        prefix = candidate
    return join([Segment(prefix)] + segments(example), example.intent)


PERTURBATIONS: dict[str, Callable[[Example, random.Random], Example]] = {
    "spaces_removed": remove_spaces,
    "spaces_inside_words": split_words,
    "typos": typos,
    "banmal": banmal,
    "punctuation_emoji": punctuation_emoji,
    "brand_script": brand_script,
    "order_number_format": order_number_format,
    "long_story": long_story,
}


def message_rng(seed: int, perturbation: str, index: int) -> random.Random:
    digest = hashlib.sha256(f"{seed}:{perturbation}:{index}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def perturb_all(examples: Sequence[Example], name: str, seed: int = DEFAULT_SEED) -> list[Example]:
    change = PERTURBATIONS[name]
    return [change(example, message_rng(seed, name, i)) for i, example in enumerate(examples)]


# ------------------------------------------------------------------------------------------ evaluation


def _scores(examples: Sequence[Example], parsed: Sequence[dict]) -> dict:
    from bot.nlu.evaluation import entity_metrics, intent_metrics

    intents = intent_metrics([e.intent for e in examples], [(p.get("intent") or {}).get("name") or "" for p in parsed])
    entities = entity_metrics([e.entities for e in examples], [p.get("entities") or [] for p in parsed])
    return {"intent_macro_f1": intents["macro_f1"], "intent_accuracy": intents["accuracy"],
            "entity_f1": entities["micro_f1"], "entities": entities["gold"],
            "confusions": intents["confusions"][:5]}


def evaluate(examples: Sequence[Example], parse: Callable[[Sequence[str]], list[dict]],
             seed: int = DEFAULT_SEED, names: Optional[Sequence[str]] = None) -> dict:
    """Baseline and one row per perturbation. `parse` turns texts into Rasa parse results.

    Each row has the scores on the whole perturbed set, the difference to the baseline, how many
    messages the perturbation changed, and the scores of those messages alone, before and after."""
    baseline_parsed = parse([e.text for e in examples])
    baseline = _scores(examples, baseline_parsed)
    rows = {}
    for name in names or PERTURBATIONS:
        perturbed = perturb_all(examples, name, seed)
        parsed = parse([e.text for e in perturbed])
        scores = _scores(perturbed, parsed)
        changed = [i for i, (a, b) in enumerate(zip(examples, perturbed)) if a.text != b.text]
        rows[name] = {
            **scores,
            "delta_intent_macro_f1": scores["intent_macro_f1"] - baseline["intent_macro_f1"],
            "delta_entity_f1": scores["entity_f1"] - baseline["entity_f1"],
            "changed": len(changed),
            "changed_before": _scores([examples[i] for i in changed], [baseline_parsed[i] for i in changed])
            if changed else None,
            "changed_after": _scores([perturbed[i] for i in changed], [parsed[i] for i in changed])
            if changed else None,
        }
    return {"seed": seed, "messages": len(examples), "baseline": baseline, "perturbations": rows}


def evaluate_model(config: Optional[str] = None, model: Optional[str] = None, heldout=None,
                   seed: int = DEFAULT_SEED) -> dict:
    import asyncio
    import os

    from bot.nlu import evaluation

    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    examples = evaluation.load_nlu_examples(heldout or evaluation.NLU_HELDOUT)
    model_file, _info, _trained_now = evaluation.resolve_model(config, model)
    from rasa.core.agent import Agent

    agent = Agent.load(str(model_file))

    def parse(texts):
        return asyncio.run(_parse(agent, texts))

    report = evaluate(examples, parse, seed)
    report["model"] = evaluation._relative(model_file)
    report["heldout"] = evaluation._relative(heldout or evaluation.NLU_HELDOUT)
    return report


async def _parse(agent, texts):
    return [await agent.parse_message(t) for t in texts]


def format_report(r: dict) -> str:
    b = r["baseline"]
    lines = [
        f"model: {r.get('model')}   held-out: {r.get('heldout')} — {r['messages']} messages, seed {r['seed']}",
        f"{'perturbation':<22} {'changed':>7} {'intent F1':>9} {'Δ':>7} {'entity F1':>9} {'Δ':>7}   "
        f"changed only: intent acc before→after, entity F1 before→after",
        f"{'(none: baseline)':<22} {'':>7} {b['intent_macro_f1']:9.3f} {'':>7} {b['entity_f1']:9.3f}",
    ]
    for name, row in r["perturbations"].items():
        before, after = row["changed_before"], row["changed_after"]
        detail = (f"{before['intent_accuracy']:.3f}→{after['intent_accuracy']:.3f}, "
                  f"{before['entity_f1']:.3f}→{after['entity_f1']:.3f} ({after['entities']} entities)") \
            if before else "-"
        lines.append(f"{name:<22} {row['changed']:>7} {row['intent_macro_f1']:9.3f} {row['delta_intent_macro_f1']:+7.3f} "
                     f"{row['entity_f1']:9.3f} {row['delta_entity_f1']:+7.3f}   {detail}")
        if row.get("confusions"):
            lines.append(" " * 24 + "most confused: " + ", ".join(
                f"{c['gold']}→{c['predicted']} {c['count']}" for c in row["confusions"]))
    return "\n".join(lines)
