"""Training data checks: minimum examples per intent, the brand catalogue in step with the NLU synonyms
and lookup table, and no held-out line inside the training data or the FAQ phrasings.

Failures name files, line numbers and counts, never the held-out texts themselves."""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from pathlib import Path

import pytest
import yaml

from bot.settings import PROJECT_ROOT

NLU_DIR = PROJECT_ROOT / "nlu_data" / "nlu"
HELDOUT = PROJECT_ROOT / "tests" / "nlu_eval" / "heldout.yml"
FAQ_HELDOUT = PROJECT_ROOT / "tests" / "nlu_eval" / "faq_heldout.yml"
BRANDS = PROJECT_ROOT / "bot" / "knowledge" / "brands.yml"
FAQ = PROJECT_ROOT / "bot" / "knowledge" / "faq.yml"

CONTRACT_INTENTS = [
    "greet", "goodbye", "affirm", "deny", "thanks", "bot_challenge", "report_counterfeit", "request_refund",
    "check_report_status", "inform", "list_orders", "register_brand_owner", "open_ipp_case", "check_case_status",
    "list_cases", "brand_stats", "request_human", "complain", "ask_faq", "out_of_scope", "stop",
    "ask_programme",
]
MIN_EXAMPLES = 60
MIN_EXAMPLES_MAIN = 120
MAIN_INTENTS = ["report_counterfeit", "request_refund", "inform", "ask_faq"]

_ANNOTATION = re.compile(r"\[([^\]]*)\](\{[^}]*\}|\([^)]*\))")


def plain(example: str) -> str:
    """The text of a Rasa YAML example line without entity annotations, normalised for comparison."""
    text = _ANNOTATION.sub(r"\1", example)
    text = unicodedata.normalize("NFKC", text).strip().lower()
    return " ".join(text.split())


def _examples(block: str) -> list[str]:
    return [line.strip()[2:] for line in block.splitlines() if line.strip().startswith("- ")]


def training_examples() -> list[tuple[str, str, Path, int]]:
    """(intent, example, file, line number) of every intent example in nlu_data/nlu."""
    out = []
    for path in sorted(NLU_DIR.glob("*.yml")):
        lines = path.read_text(encoding="utf-8").splitlines()
        data = yaml.safe_load("\n".join(lines)) or {}
        for block in data.get("nlu", []):
            if "intent" not in block:
                continue
            for example in _examples(block["examples"]):
                number = next((i + 1 for i, line in enumerate(lines) if line.strip() == f"- {example}"), 0)
                out.append((block["intent"], example, path, number))
    return out


def test_every_contract_intent_has_enough_examples():
    counts = Counter(intent for intent, *_ in training_examples())
    short = {i: counts[i] for i in CONTRACT_INTENTS if counts[i] < MIN_EXAMPLES}
    assert not short, f"intents below {MIN_EXAMPLES} examples: {short}"
    short_main = {i: counts[i] for i in MAIN_INTENTS if counts[i] < MIN_EXAMPLES_MAIN}
    assert not short_main, f"intents below {MIN_EXAMPLES_MAIN} examples: {short_main}"


def test_no_duplicate_training_examples():
    seen: dict[str, tuple] = {}
    clashes = []
    for intent, example, path, number in training_examples():
        key = plain(example)
        if key in seen and seen[key][0] != intent:
            clashes.append(f"{path.name}:{number} ({intent}) vs {seen[key][1].name}:{seen[key][2]} ({seen[key][0]})")
        seen.setdefault(key, (intent, path, number))
    assert not clashes, "the same text under two intents: " + "; ".join(clashes)


def test_no_heldout_line_is_in_the_training_data():
    heldout = yaml.safe_load(HELDOUT.read_text(encoding="utf-8"))
    heldout_texts = {plain(e) for block in heldout["nlu"] for e in _examples(block["examples"])}
    assert len(heldout_texts) > 100
    leaks = [f"{path.relative_to(PROJECT_ROOT)}:{number}" for _, example, path, number in training_examples()
             if plain(example) in heldout_texts]
    assert len(leaks) == 0, f"{len(leaks)} held-out lines appear in nlu_data/ at: {', '.join(leaks)}"


def squashed(example: str) -> str:
    """`plain` without spaces and punctuation: a line re-spaced or re-punctuated is the same line."""
    return re.sub(r"[\s.?!~,…]+", "", plain(example))


# Greetings and one-word answers ("안녕하세요~", "넵") are bound to recur in any chat data; from this length
# on, a training line equal to a held-out one up to spacing and punctuation is a copy.
NEAR_COPY_MIN_CHARS = 8


def test_no_heldout_line_is_in_the_training_data_up_to_spacing_and_punctuation():
    heldout = yaml.safe_load(HELDOUT.read_text(encoding="utf-8"))
    heldout_texts = {squashed(e) for block in heldout["nlu"] for e in _examples(block["examples"])}
    paraphrases = {squashed(p["text"]) for p in yaml.safe_load(FAQ_HELDOUT.read_text(encoding="utf-8"))["paraphrases"]}
    leaks = [f"{path.relative_to(PROJECT_ROOT)}:{number}" for _, example, path, number in training_examples()
             if len(squashed(example)) >= NEAR_COPY_MIN_CHARS and squashed(example) in heldout_texts | paraphrases]
    assert len(leaks) == 0, f"{len(leaks)} held-out lines (re-spaced) appear in nlu_data/ at: {', '.join(leaks)}"


def test_no_faq_heldout_paraphrase_is_a_faq_phrasing():
    paraphrases = {plain(p["text"]) for p in yaml.safe_load(FAQ_HELDOUT.read_text(encoding="utf-8"))["paraphrases"]}
    faqs = yaml.safe_load(FAQ.read_text(encoding="utf-8"))["faqs"]
    leaks = [f"{f['id']}#{i}" for f in faqs for i, q in enumerate(f["questions"]) if plain(str(q)) in paraphrases]
    assert len(leaks) == 0, f"{len(leaks)} held-out FAQ paraphrases appear in faq.yml: {', '.join(leaks)}"
    heldout_nlu = yaml.safe_load(HELDOUT.read_text(encoding="utf-8"))
    nlu_texts = {plain(e) for block in heldout_nlu["nlu"] for e in _examples(block["examples"])}
    leaks = [f"{f['id']}#{i}" for f in faqs for i, q in enumerate(f["questions"]) if plain(str(q)) in nlu_texts]
    assert len(leaks) == 0, f"{len(leaks)} NLU held-out lines appear in faq.yml: {', '.join(leaks)}"


def _nlu_brand_blocks() -> tuple[dict[str, set], set]:
    data = yaml.safe_load((NLU_DIR / "brands.yml").read_text(encoding="utf-8"))
    synonyms, lookup = {}, set()
    for block in data["nlu"]:
        if "synonym" in block:
            synonyms[block["synonym"]] = set(_examples(block["examples"]))
        elif block.get("lookup") == "brand":
            lookup |= set(_examples(block["examples"]))
    return synonyms, lookup


def test_brand_synonyms_are_in_step_with_the_catalogue():
    catalogue = yaml.safe_load(BRANDS.read_text(encoding="utf-8"))["brands"]
    synonyms, lookup = _nlu_brand_blocks()
    assert set(synonyms) == {b["name"] for b in catalogue}, "synonym blocks must match the catalogue's brands"
    for brand in catalogue:
        expected = {str(s) for s in brand["synonyms"]} - {brand["name"]}
        assert synonyms[brand["name"]] == expected, (
            f"nlu_data/nlu/brands.yml synonyms of {brand['name']} differ from bot/knowledge/brands.yml: "
            f"missing {sorted(expected - synonyms[brand['name']])}, extra {sorted(synonyms[brand['name']] - expected)}")
        names = {brand["name"], *map(str, brand["synonyms"])}
        assert names <= lookup, f"lookup table 'brand' lacks {sorted(names - lookup)}"


@pytest.mark.parametrize("name", ["Nike", "Adidas", "Chanel", "Louis Vuitton", "Gucci", "Gentle Monster",
                                  "Sulwhasoo", "Samsung", "Dyson", "Moncler"])
def test_contract_brands_have_korean_and_latin_names(name):
    catalogue = {b["name"]: b for b in yaml.safe_load(BRANDS.read_text(encoding="utf-8"))["brands"]}
    synonyms = [str(s) for s in catalogue[name]["synonyms"]]
    assert any(re.search("[가-힣]", s) for s in synonyms) and any(re.search("[A-Za-z]", s) for s in synonyms)


def test_lookup_table_has_brands_outside_the_catalogue():
    catalogue = yaml.safe_load(BRANDS.read_text(encoding="utf-8"))["brands"]
    known = {str(s).lower() for b in catalogue for s in [b["name"], *b["synonyms"]]}
    _, lookup = _nlu_brand_blocks()
    assert len({x for x in lookup if x.lower() not in known}) >= 20


def test_unknown_brands_are_annotated_in_training_examples():
    """DIET learns `brand` from context only if some examples annotate brands outside the catalogue."""
    catalogue = yaml.safe_load(BRANDS.read_text(encoding="utf-8"))["brands"]
    known = {str(s).lower() for b in catalogue for s in [b["name"], *b["synonyms"]]}
    annotated = [m.group(1) for _, example, *_ in training_examples() for m in _ANNOTATION.finditer(example)
                 if '"brand"' in m.group(2) or m.group(2) == "(brand)"]
    assert len([a for a in annotated if a.lower() not in known]) >= 20
