"""Claims about the world the series once got wrong, pinned: the wrong sentence stays out, the
right one, with its source, stays in (the lessons issue)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def prose(name: str) -> str:
    """A notebook's markdown (or a text file), on one line per paragraph's worth of words."""
    path = ROOT / name
    if path.suffix != ".ipynb":
        return " ".join(path.read_text().split())
    cells = json.loads(path.read_text())["cells"]
    return " ".join(" ".join("".join(c["source"]).split()) for c in cells if c["cell_type"] == "markdown")


@pytest.mark.parametrize("name", ["notebooks/05-reliability.ipynb", "README.md"])
def test_svix_recover_is_not_said_to_enable_the_endpoint(name):
    """Svix's Recover re-sends failed messages since a date; enabling a disabled endpoint is its own
    step (https://docs.svix.com/retries)."""
    text = prose(name)
    assert "which also enables the endpoint again" not in text and "(Svix's way)" not in text
    assert "https://docs.svix.com/retries" in text


@pytest.mark.parametrize("name", ["notebooks/05-reliability.ipynb", "README.md"])
def test_shopify_deletes_only_subscriptions_made_through_the_admin_api(name):
    """https://shopify.dev/docs/apps/build/webhooks/subscribe/https: deleted "if it was configured
    using the Admin API"; app-specific subscriptions are kept."""
    text = prose(name)
    for sentence in re.findall(r"[^.]*Shopify[^.]*(?:delet|after the 8 retries)[^.]*", text):
        assert "Admin API" in sentence, sentence
    assert "https://shopify.dev/docs/apps/build/webhooks/subscribe/https" in text


def test_shopifys_exercise_says_which_kind_of_subscription_it_is():
    text = prose("notebooks/05-reliability.ipynb")
    (question,) = re.findall(r"\*\*3\.\*\* Predict, then run\.[^*]*", text)
    assert "Admin API" in question


def test_event_ids_are_remembered_for_the_retry_period_not_the_window():
    text = prose("notebooks/03-signature-verification.ipynb")
    assert "at least as long as the window" not in text
    assert "the whole retry period" in text


@pytest.mark.parametrize("name", ["notebooks/05-reliability.ipynb", "README.md"])
def test_github_redelivery_is_said_to_reach_back_three_days(name):
    """https://docs.github.com/en/webhooks/testing-and-troubleshooting-webhooks/redelivering-webhooks:
    "You can redeliver webhook deliveries that occurred in the past 3 days" (github.com)."""
    text = prose(name)
    assert "past 3 days" in text
    assert "testing-and-troubleshooting-webhooks/redelivering-webhooks" in text


def test_adaptive_beating_both_is_this_labs_measurement_not_the_papers():
    text = prose("README.md")
    assert "in this lab's runs the adaptive mode beats both (this lab's measurement" in text


def test_the_optimum_is_not_said_to_poll_this_examples_fast_records_less():
    """In 06's own example the optimum polls the fast records more often than uniform; fewer polls
    only come for records that change far faster than the budget can follow."""
    text = prose("notebooks/06-smarter-polling.ipynb")
    assert "even polls the fastest records *less* than uniform" not in text
    assert "the optimum polls them more often than uniform does" in text


def test_the_optimum_polls_06s_fast_records_more_often_and_very_fast_ones_not_at_all():
    """The figures behind 06's sentence, recomputed with the allocation the notebook uses: 60 records,
    half changing every 30 s and half every hour, the budget of polling each every 120 s."""
    from hooklab.core import adaptive

    best = adaptive.allocate([1 / 30, 1 / 3600] * 30, 60 / 120)
    assert 1 / best[0] == pytest.approx(70.6, abs=0.1)  # fast records: more often than uniform's 120 s
    faster = adaptive.allocate([1 / 2, 1 / 3600] * 30, 60 / 120)
    assert faster[0] == 0  # changing every 2 s: no affordable interval keeps them fresh


@pytest.mark.parametrize(
    "name", ["notebooks/06-smarter-polling.ipynb", "notebooks/04-pull-vs-push.ipynb", "README.md"]
)
def test_a_free_304_is_said_to_need_an_authorized_request(name):
    """GitHub: a conditional request does not count against the primary rate limit "if a 304 response
    is returned and the request was made while correctly authorized with an Authorization header"."""
    text = prose(name)
    assert "(a `304` is free)" not in text and "costs almost nothing" not in text
    assert "authorized request is free" in text or "Authorization` header" in text


def test_long_pollings_worst_case_is_three_transits():
    """RFC 6202, section 2.2: after a response and before the next request, a change waits for
    "three network transits"."""
    text = prose("notebooks/06-smarter-polling.ipynb")
    assert "three network transits at worst" in text and "rfc6202#section-2.2" in text


def test_stripes_exponential_back_off_quote_links_the_page_that_says_it():
    text = prose("notebooks/05-reliability.ipynb")
    quote = text.index('"for up to three days with an exponential back off"')
    assert "https://docs.stripe.com/webhooks#automatic-retries" in text[quote : quote + 200]


def test_the_rate_estimator_is_said_to_assume_a_regular_interval():
    assert "it assumes polls at a regular interval" in prose("notebooks/06-smarter-polling.ipynb")


def test_at_least_once_is_not_promised_even_while_the_sender_tries():
    text = prose("notebooks/05-reliability.ipynb")
    assert "webhook delivery isn't always guaranteed" in text
    assert "https://shopify.dev/docs/apps/build/webhooks/best-practices" in text


def test_02s_exercise_2_gives_the_window_it_needs_and_the_window_is_300_s():
    from hooklab import lab

    assert lab.DEFAULT_TOLERANCE == 300
    question = prose("notebooks/02-webhooks.ipynb").split("**2. Which still pass?**")[1].split("**3.")[0]
    assert "`lab.DEFAULT_TOLERANCE` = 300 s" in question


def test_05s_exercise_1_says_where_svixs_waits_are():
    from hooklab import lab

    assert lab.POLICIES["svix"].waits_s[:2] == (5.0, 300.0)
    question = prose("notebooks/05-reliability.ipynb").split("**1.** B uses Svix's schedule")[1][:400]
    assert 'lab.POLICIES["svix"].waits_s' in question


def notebook_cells(path: Path) -> list[tuple[str, str, str]]:
    """Each cell's (kind, source, stored text output)."""
    cells = json.loads(path.read_text())["cells"]
    out = []
    for c in cells:
        text = "".join(
            "".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", ""))
            for o in c.get("outputs", [])
        )
        out.append((c["cell_type"], "".join(c["source"]), text))
    return out


NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_check_cell_calls_its_exercise_by_name_and_shows_nothing_else(path):
    """Checkers live in lab.answers: a check cell holds one call, no value, formula or success text."""
    for kind, source, _ in notebook_cells(path):
        if kind == "code" and ("self_check(" in source or "lab.check_answer(" in source):
            assert source.startswith("lab.check_answer(") and source.count("\n") <= 8, source
            assert "def " not in source and "right=" not in source, source


def test_every_exercise_is_checked_once_and_solved_once_in_the_series():
    from hooklab.lab import answers

    sources = [source for path in NOTEBOOKS for kind, source, _ in notebook_cells(path) if kind == "code"]
    for name in answers.EXERCISES:
        assert (
            sum(f'lab.check_answer(\n    "{name}"' in s or f'lab.check_answer("{name}"' in s for s in sources)
            == 1
        ), name
        assert sum(f'"{name}"' in s and "lab.worked_solution(" in s for s in sources) == 1, name


def _02_delivery() -> dict:
    from hooklab.lab import ManualClock, PaymentProvider

    clock = ManualClock(start=1_700_000_000)
    b = PaymentProvider(seed=1, seeded_ids=True)
    b.register_endpoint("http://127.0.0.1:8001/webhooks/b", secret="whsec_d23f0824128b2f330c5c7fd0a6a3a450")
    payment = b.create_payment(1999, "eur", clock.now(), settle=False)
    b.update_status(payment["id"], "succeeded", clock.now())
    [delivery] = b.deliveries_due(clock.now())
    _, headers, body = delivery.request(clock.now())
    return {
        "body": body,
        "headers": headers,
        "secret": "whsec_d23f0824128b2f330c5c7fd0a6a3a450",
        "now": clock.now(),
    }


#: 03's exercise 5, as the notebook defines it
RELAY_BODIES = {
    "a": b'{"id":"evt_1","amount":1999}',
    "b": b'{"id": "evt_1", "amount": 1999}',
    "c": b'{"amount":10.0}',
    "d": b'{"name":"Caf\\u00e9"}',
    "e": b'{"z":1,"a":2}',
}


def test_every_named_exercise_is_right_only_for_its_worked_value():
    import base64
    import hashlib
    import hmac

    from hooklab.core.provider import SettlementModel
    from hooklab.lab import answers, sign_stripe

    t0, secret, body = 1_700_000_000, "whsec_x", b'{"id":"evt_1"}'
    old, new = "whsec_old", "whsec_new"
    both = sign_stripe(body, old, t0) + ",v1=" + sign_stripe(body, new, t0).split("v1=")[1]
    std_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    mac = hmac.new(
        base64.b64decode(std_secret[6:]), f"msg_hooklab_exercise_4.{t0}.".encode() + body, hashlib.sha256
    )
    signed = {"body": body, "header": sign_stripe(body, secret, t0), "secret": secret}
    cases = {  # name: (context, the worked answer, a wrong one)
        "00-polls-per-hour": ({}, 14_400, 14_401),
        "00-deliveries": ({}, 20, 40),
        "01-empty-share": ({"records": 50}, 0.861, 0.951),
        "01-requests-for-a-2-s-wait": ({"rate_per_s": 1 / 600}, 180_000, 90_000),
        "01-max-records": ({}, 83, 84),
        "01-predictions": ({"payments": 5, "settlement": SettlementModel(mean_s=1.0)}, (False, True), (True, False)),
        "02-first-attempt-back": ({}, 6, 5),
        "02-which-pass": (_02_delivery(), {"a", "d"}, {"a", "c", "d"}),
        "02-slow-handler": ({"delivery_timeout_s": 5}, (6, 40.5), (6, 15.5)),
        "03-replay-with-a-slow-clock": (signed, t0 + 130, t0 + 90),
        "03-proxy-newline": ({**signed, "t0": t0}, "signature_mismatch", "malformed_header"),
        "03-rotation-header": ({"body": body, "old": old, "new": new, "t0": t0}, both, sign_stripe(body, old, t0)),
        "03-standard-by-hand": ({"body": body, "secret": std_secret, "timestamp": t0},
                                "v1," + base64.b64encode(mac.digest()).decode(),
                                "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
        "03-relay-survivors": ({"bodies": RELAY_BODIES}, {"a", "e"}, {"a", "c", "e"}),
        "04-break-even": ({}, 300, 600),
        "04-hybrid-requests": ({}, 1000, 200),
        "04-parcels": ({}, "webhook", "poll"),
        "05-first-attempt-after-outage": ({}, 6, 5),
        "05-id-memory": ({}, 75.6, 27.6),
        "05-shopify-share": ({}, 0.0, 0.5),
        "06-share-304": ({}, 0.37, 0.63),
        "06-naive-interval": ({}, 1440, 720),
        "07-capacity": ({}, 80, 20),
        "07-drain-time": ({}, 200, 150),
        "07-throttled-send": ({}, 59, 50),
    }  # fmt: skip
    assert set(cases) == set(answers.EXERCISES)
    for name, (context, right, wrong) in cases.items():
        verify = answers.EXERCISES[name].verify
        assert verify(right, **context) is None, name
        assert verify(wrong, **context), name


def _outputs_before_the_exercises(name: str) -> str:
    cells = notebook_cells(ROOT / "notebooks" / name)
    end = next(
        i
        for i, (kind, source, _) in enumerate(cells)
        if kind == "markdown" and source.startswith("## Exercises")
    )
    return " ".join(text for _, _, text in cells[:end])


@pytest.mark.parametrize(
    ("name", "answer"),
    [("01-api-polling.ipynb", "0.861"), ("02-webhooks.ipynb", "40.5"), ("05-reliability.ipynb", "75.58"),
     ("03-signature-verification.ipynb", "1700000130")],
)  # fmt: skip
def test_no_output_before_the_exercises_shows_an_answer(name, answer):
    assert answer not in _outputs_before_the_exercises(name)


def test_03s_standard_webhooks_exercise_signs_a_message_no_cell_has_printed():
    from hooklab.lab import answers, sign_standard

    t0, std_secret, std_body = (
        1_700_000_000,
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        b'{"test": 2432232314}',
    )
    expected = sign_standard(answers.STANDARD_EXERCISE_ID, t0, std_body, std_secret).split(",")[1]
    assert expected not in _outputs_before_the_exercises("03-signature-verification.ipynb")


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_worked_solutions_store_no_output(path):
    """A worked solution proves itself silently (lab.solved prints nothing when right): after Run All
    JupyterLab opens a solution's stored output under the exercise, where it would show the answer."""
    cells = json.loads(path.read_text())["cells"]
    solutions = [c for c in cells if c.get("metadata", {}).get("jupyter", {}).get("source_hidden")]
    assert all(not c.get("outputs") for c in solutions), [
        c["source"][:2] for c in solutions if c.get("outputs")
    ]


def test_a_crash_between_two_transactions_loses_the_shipment_and_one_transaction_does_not():
    """A real handler process killed with SIGKILL between its writes, then B's retry (05, section 3)."""
    from hooklab import lab

    crashes = lab.one_or_two_transactions()
    assert crashes.loc[2].tolist() == [True, False, False, False]  # knows it succeeded, never ships
    assert crashes.loc[1].tolist() == [False, False, True, True]  # nothing committed; the retry ships


def test_05_teaches_recorded_exactly_once_with_an_outbox_and_an_idempotency_key():
    text = prose("notebooks/05-reliability.ipynb")
    assert "recorded* exactly once" in text and "transactional outbox" in text
    assert "docs.stripe.com/api/idempotent_requests" in text
    assert "never a stale state." not in text and "serialise the work per payment" in text


def test_reconciliations_cost_counts_the_reads_after_a_returns():
    from hooklab import lab

    outage = lab.reconcile_after_outage()
    reconciled = outage.iloc[1]
    assert outage.attrs["caught_up_h"] > 41  # A came back at 41 h and caught up after
    assert reconciled["lost"] == 0 and reconciled["reconciliation reads"] > 6  # 6 were made in the first hour
    assert "for 6 more requests" not in "".join(
        text for _, _, text in notebook_cells(ROOT / "notebooks" / "05-reliability.ipynb")
    )


def test_05_lists_recovery_horizons_with_their_sources():
    cells = notebook_cells(ROOT / "notebooks" / "05-reliability.ipynb")
    [table] = [
        source for kind, source, _ in cells if kind == "markdown" and "How far back can A recover?" in source
    ]
    rows = [line for line in table.splitlines() if line.startswith("| ")]
    for source, horizon in [("docs.stripe.com/api/events/list", "30 days"), ("redelivering-webhooks", "3 days"),
                            ("docs.github.com/en/rest/activity/events", "90 days"), ("docs.svix.com/retries", "14 days")]:  # fmt: skip
        assert any(source in row and row.rstrip(" |").endswith(horizon) or f"| {horizon}" in row and source in row
                   for row in rows), source  # fmt: skip


def test_the_id_memory_is_said_to_guard_only_what_has_no_key_of_its_own():
    from hooklab import lab

    memory = lab.inbox_memory([300, 7 * 86400])
    assert memory["processed_twice"].iloc[0] > 0 and memory["state_right"].all()
    assert "receipt e-mail" in prose("notebooks/05-reliability.ipynb")
    twins = lab.same_change_two_ids()
    assert twins["accepted as new"].all() and twins["changed A's state"].tolist() == [True, False]


def test_06_states_the_events_apis_limits_and_githubs_secondary_limits():
    text = prose("notebooks/06-smarter-polling.ipynb")
    assert "is not built to serve real-time use cases" in text and "300 events" in text and "90 days" in text
    assert "page number, not by a cursor" in text
    assert "other endpoints do not send it" in text  # X-Poll-Interval is the events endpoints'
    assert "900 points a minute" in text and "#about-secondary-rate-limits" in text
    assert "github/docs/issues/34689" in text  # ETags per token, as users report
    assert "never exceeds the changes per hour" not in text


def test_06s_budget_is_stated_per_hour_and_proportionals_steady_state_is_shown():
    from hooklab import lab

    budget = lab.budget_allocations()
    assert budget.loc["uniform", "requests_per_hour"] == 1800  # "as every 2 minutes": 60 x 30
    assert budget.loc["proportional", "freshness"] > budget.loc["proportional", "steady_state"] + 0.03
    assert "1,800 an hour" in prose("notebooks/06-smarter-polling.ipynb")


def test_full_jitter_waits_stay_within_their_growing_cap():
    import random

    from hooklab.core.retry import full_jitter_s

    rng = random.Random(0)
    waits = [[full_jitter_s(k, rng, base_s=0.5, cap_s=4.0) for _ in range(200)] for k in (1, 2, 3, 6)]
    assert [round(max(w), 1) for w in waits] == [1.0, 2.0, 4.0, 4.0]  # 0.5 x 2^k, capped at 4
    assert all(min(w) >= 0 for w in waits) and min(waits[0]) < 0.1  # full jitter reaches down to 0
    with pytest.raises(ValueError):
        full_jitter_s(0, rng)


def test_04s_decision_table_offers_long_polling_and_sse_without_a_public_endpoint_and_explains_its_columns():
    text = prose("notebooks/04-pull-vs-push.ipynb")
    row = text.split("Can B reach an HTTPS endpoint of A's?")[1][:250]
    assert "long polling or SSE" in row
    assert "`long_poll_requests_per_hour` a long poll answered at each change" in text


def test_reading_times_come_from_the_words_at_the_stated_rates():
    from hooklab.lab import reading_time

    cells = [{"cell_type": "markdown", "source": "word " * 238},
             {"cell_type": "code", "source": "x " * 119, "metadata": {}},
             {"cell_type": "code", "source": 'lab.check_answer("a", None)', "metadata": {}},
             {"cell_type": "code", "source": "hidden " * 999, "metadata": {"jupyter": {"source_hidden": True}}}]  # fmt: skip
    m = reading_time.minutes(cells)
    assert m["prose"] == 1 and m["code"] == pytest.approx(1 + 4 / 119) and m["exercises"] == 4
    assert m["total"] == 7  # rounded up; worked solutions (hidden) are not counted
    total = sum(reading_time.minutes(json.loads(p.read_text())["cells"])["total"] for p in NOTEBOOKS)
    assert total > 200  # the careful reader needed about 215 minutes, not the 160 once stated
    assert "doi.org/10.1016/j.jml.2019.104047" in prose("notebooks/00-index.ipynb")


def test_01s_timeline_draws_a_lane_for_every_record_even_one_that_never_changed():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hooklab.lab import plots_tradeoff

    ax, requests, changes = plots_tradeoff.poll_timeline(30, records=6, rate_per_s=1 / 300, window_s=300)
    assert changes["payment_id"].nunique() < 6 and requests["path"].nunique() == 6  # one never changed
    assert [t.get_text() for t in ax.get_yticklabels()] == [f"payment {i}" for i in range(1, 7)]
    plt.close("all")
