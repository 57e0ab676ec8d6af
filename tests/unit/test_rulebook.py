"""The rule book itself: docs/rules.md is the code's, every code has messages, ids are cited."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from gateway.messages import CATALOGUE
from gateway.model import Finding
from handlers import DEFAULT_RULES
from handlers.rulebook import RuleSeverity, markdown, rulebook
from tests.unit.rulebook_records import apply, context, manifest

ROOT = Path(__file__).resolve().parents[2]


def test_docs_rules_md_is_generated_from_the_code() -> None:
    written = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    assert written == markdown(), (
        "docs/rules.md differs from the rules: run `python -m handlers.rulebook > docs/rules.md`"
    )


def test_every_rule_is_listed_once_with_its_metadata() -> None:
    text = markdown()
    ids = [r.spec.id for r in rulebook()]
    assert len(ids) == len(set(ids))
    for registered in rulebook():
        spec = registered.spec
        assert text.count(f"| `{spec.id}` |") == 1, spec.id
        assert spec.article and spec.checks and spec.example and spec.codes, spec.id
        if spec.id.startswith("ART"):
            # The id names the article it applies: ART4-5-HS cites 4(5), ART13-AGREEMENT 13.
            article, paragraph, *_ = spec.id[3:].split("-")
            cited = f"{article}({paragraph})" if paragraph.isdigit() else f"Art. {article}"
            assert cited in spec.article, (spec.id, spec.article)
        else:
            assert spec.id.startswith("GW-") and spec.article.startswith("gateway"), spec.id


def test_every_code_a_rule_declares_has_both_messages_and_fits_edifact() -> None:
    for registered in rulebook():
        for code in registered.spec.codes:
            assert code in CATALOGUE, (registered.spec.id, code)
            message_id, message_en = CATALOGUE[code]
            assert message_id and message_en and message_id != message_en
            assert len(code) <= 8, code  # EDIFACT ERC an..8


def test_the_default_rules_are_the_book_in_order() -> None:
    registered = [r.check for r in rulebook()]
    assert list(DEFAULT_RULES[: len(registered)]) == registered


def test_every_severity_is_used() -> None:
    assert {r.spec.severity for r in rulebook()} == set(RuleSeverity)


def test_messages_cite_the_rule_that_emitted_them() -> None:
    bad = manifest(header=manifest().header.__class__(office_code="040300", language="fr"))
    [item] = apply("ART4-1-LANGUAGE", bad, context(datetime(2026, 3, 1, tzinfo=UTC)))
    assert isinstance(item, Finding) and item.code == "MAN-009"
    assert item.message_en.endswith("[ART4-1-LANGUAGE]")
    assert item.message_id.endswith("[ART4-1-LANGUAGE]")
    assert "fr" in item.message_en and "Art. 4(1)" in item.message_en
