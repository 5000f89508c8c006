"""models/vocabulary.py is complete: every wire name a person can meet has its one Chinese label there."""

from typing import get_args

from chuishao.flows import bulletin, clocks
from chuishao.flows import lifecycle as lc
from chuishao.flows.access import INTEGRATOR
from chuishao.flows.admin import CLOCKS
from chuishao.flows.commands import OUTCOMES, SOURCES, Satisfaction, Urgency
from chuishao.models import vocabulary as vocab
from chuishao.models.org import ROLES, UNIT_KINDS


def test_every_wire_name_has_its_label():
    assert set(vocab.STATE_LABELS) == set(lc.STATES)
    assert set(vocab.ACTION_LABELS) == set(lc.BY_ACTION) | {"report", "attach"}
    assert len(vocab.STEP_LABELS) == max(lc.STEP.values())
    assert set(ROLES) | {INTEGRATOR} <= set(vocab.ROLE_LABELS)
    assert set(vocab.UNIT_KIND_LABELS) == set(UNIT_KINDS)
    assert set(vocab.SOURCE_LABELS) == set(SOURCES)
    assert set(vocab.OUTCOME_LABELS) == set(OUTCOMES)
    assert set(vocab.URGENCY_LABELS) == set(get_args(Urgency))
    assert set(vocab.SATISFACTION_LABELS) == set(get_args(Satisfaction))
    assert set(vocab.ALERT_LABELS) == set(vocab.ALERT_SHORT_LABELS) == {"none", *clocks.LEVELS}
    assert set(vocab.CLOCK_LABELS) == set(CLOCKS) == set(clocks.DEFAULT_LIMITS)
    assert set(vocab.METRIC_LABELS) == set(bulletin.DEFAULT_WEIGHTS)
    assert {f for body in lc.BODIES.values() for f in body.model_fields} <= set(vocab.FIELD_LABELS)


def test_no_two_names_in_one_vocabulary_share_a_label():
    """Two states (or actions, sources, …) with one label could not be told apart on a page."""
    for table in (vocab.STATE_LABELS, vocab.ACTION_LABELS, vocab.ROLE_LABELS, vocab.SOURCE_LABELS, vocab.OUTCOME_LABELS,
                  vocab.ALERT_LABELS, vocab.ALERT_SHORT_LABELS, vocab.CLOCK_LABELS, vocab.METRIC_LABELS,
                  vocab.WHISTLE_STATE_LABELS, vocab.EXTENSION_STATE_LABELS):
        assert len(set(table.values())) == len(table), table
