"""Feedback changes later rankings: the per-reader model, and Feedback rows in the database."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.linear_model import LogisticRegression
from sqlalchemy import select

from newsletter.db import session_scope
from newsletter.models import (
    Delivery,
    DeliveryState,
    Feedback,
    FeedbackKind,
)
from newsletter.ranking.feedback import L2, balanced_weights, decision, fit_dual
from newsletter.ranking.profile import Profile
from newsletter.ranking.readers import rank_and_record
from newsletter.ranking.score import RankWeights, fit_edition, rank
from newsletter.subscriptions.service import Preferences, add_subscriber
from tests.ranking.dbfactories import add_papers, daily_edition, pending_delivery
from tests.ranking.factories import NOW, edition, paper, topic_of


def test_the_batched_feedback_model_is_scikit_learns_logistic_regression():
    papers = edition()
    model = fit_edition(papers)
    train = [0, 1, 2, 4, 5, 8, 12, 16]  # graph, graph, graph, diffusion, diffusion, rl, llm, tta
    labels = np.array([1, 1, 1, 0, 0, 0, 1, 0])
    strength = np.array([1.0, 1.0, 0.5, 1.0, 0.3, 1.0, 1.0, 0.3])
    x = model.matrix[train]
    weights = balanced_weights(labels[None, :], strength[None, :])
    gram = (x @ x.T).toarray()[None]
    alpha, bias = fit_dual(gram, labels[None, :], weights)
    ours = decision(alpha, bias, (x @ model.matrix.T).toarray()[None])[0]

    reference = LogisticRegression(C=1 / L2, tol=1e-10, max_iter=10_000)
    reference.fit(x, labels, sample_weight=weights[0])
    theirs = reference.decision_function(model.matrix)
    assert np.allclose(ours, theirs, atol=2e-3)
    assert spearmanr(ours, theirs).statistic > 0.999


def test_enough_feedback_trains_a_model_that_reorders_the_digest():
    papers = edition()
    model = fit_edition(papers)
    # The reader likes reinforcement learning and hides diffusion, through papers from
    # earlier editions (only in the library), and ignores sent LLM papers.
    library = {
        "old.rl1": "Reinforcement learning agent policy reward robotic control",
        "old.rl2": "Policy optimisation for agents with sparse reward",
        "old.diff1": "Diffusion models denoising images from noise",
        "old.diff2": "Score matching sampler for high resolution images",
        "old.llm1": "Language model reasoning chain-of-thought prompting",
        "old.llm2": "Large language models solve math word problems",
    }
    reader = Profile(
        keywords=["benchmarks"],
        liked=["old.rl1"],
        clicked=["old.rl2"],
        hidden=["old.diff1", "old.diff2"],
        already_sent=["old.llm1", "old.llm2", "old.rl1", "old.rl2"],
    )
    weights = RankWeights(min_feedback=6, hidden_penalty=0.0)
    with_model = rank(model, [reader], 4, weights=weights, library=library)[0]
    assert {topic_of(p.arxiv_id) for p in with_model[:2]} == {"rl"}
    # Below the threshold no model is trained; the reasons show the difference.
    no_model = rank(
        model,
        [reader],
        20,
        weights=RankWeights(min_feedback=50, text_min_feedback=50),
        library=library,
    )[0]
    llm_rank = lambda picks: min(i for i, p in enumerate(picks) if p.arxiv_id.startswith("llm."))  # noqa: E731
    full = rank(model, [reader], 20, weights=weights, library=library)[0]
    assert llm_rank(full) > llm_rank(no_model)


def test_likes_and_hides_in_the_database_change_the_next_digest(db_url: str):
    """Two readers with the same interests; one liked graph papers and hid diffusion ones."""
    papers = edition()
    old = [p for p in papers if p.arxiv_id.endswith((".1", ".2"))]
    new = [p for p in papers if p.arxiv_id.endswith((".3", ".4"))]
    with session_scope() as session:
        add_papers(session, papers, NOW - timedelta(days=1))
        prefs = Preferences(description="results on standard benchmarks", max_papers=4)
        plain = add_subscriber(session, "plain@example.org", prefs, confirmed=True)
        rater = add_subscriber(session, "rater@example.org", prefs, confirmed=True)
        first = daily_edition(session, old, days=-1)
        second = daily_edition(session, new)
        for subscriber in (plain, rater):
            session.add(
                Delivery(
                    edition_id=first.id,
                    subscriber_id=subscriber.id,
                    state=DeliveryState.SENT,
                    papers=[{"arxiv_id": p.arxiv_id} for p in old],
                    created_at=NOW - timedelta(hours=20),
                )
            )
        ratings = [
            ("graph.1", FeedbackKind.LIKED),
            ("graph.2", FeedbackKind.CLICKED),
            ("tta.1", FeedbackKind.CLICKED),
            ("diffusion.1", FeedbackKind.HIDDEN),
            ("diffusion.2", FeedbackKind.HIDDEN),
        ]
        for arxiv_id, kind in ratings:
            session.add(Feedback(subscriber_id=rater.id, arxiv_id=arxiv_id, kind=kind))
        deliveries = [pending_delivery(session, second.id, s.id) for s in (plain, rater)]
        ready = rank_and_record(session, [d.id for d in deliveries], now=NOW)
        assert sorted(ready) == sorted(d.id for d in deliveries)

    with session_scope() as session:
        rows = session.scalars(
            select(Delivery).where(Delivery.edition_id == second.id).order_by(Delivery.id)
        ).all()
        plain_picks = [p["arxiv_id"] for p in rows[0].papers]
        rater_picks = [p["arxiv_id"] for p in rows[1].papers]
    assert plain_picks != rater_picks
    assert rater_picks[0].startswith("graph.")
    assert not any(a.startswith("diffusion.") for a in rater_picks)
    assert any(a.startswith("diffusion.") for a in plain_picks)
    reasons = [p["reason"] for p in rows[1].papers]
    assert reasons[0].startswith("Resembles ") and "you liked" in reasons[0]


@pytest.mark.parametrize("state", [DeliveryState.SENT, DeliveryState.UNCERTAIN])
def test_a_paper_in_an_earlier_digest_is_not_sent_again(sqlite_url: str, state: str):
    papers = edition()
    with session_scope() as session:
        add_papers(session, papers, NOW - timedelta(days=1))
        reader = add_subscriber(
            session,
            "r@example.org",
            Preferences(keywords=["graph neural networks"]),
            confirmed=True,
        )
        earlier = daily_edition(session, papers, days=-1)
        today = daily_edition(session, papers)
        session.add(
            Delivery(
                edition_id=earlier.id,
                subscriber_id=reader.id,
                state=state,
                papers=[{"arxiv_id": "graph.1"}, {"arxiv_id": "graph.2"}],
                created_at=NOW - timedelta(hours=20),
            )
        )
        delivery = pending_delivery(session, today.id, reader.id)
        rank_and_record(session, [delivery.id], now=NOW)
        picked = [p["arxiv_id"] for p in delivery.papers or []]
    assert picked[:2] == ["graph.3", "graph.4"] or set(picked[:2]) == {"graph.3", "graph.4"}
    assert "graph.1" not in picked and "graph.2" not in picked


def test_a_seed_paper_from_an_earlier_edition_steers_the_digest(sqlite_url: str):
    papers = edition()
    seed = paper(
        "2401.00001",
        "Denoising diffusion models",
        "Score matching sampler generates high resolution images from noise.",
    )
    with session_scope() as session:
        add_papers(session, [*papers, seed], NOW - timedelta(days=1))
        reader = add_subscriber(
            session, "s@example.org", Preferences(seed_papers=["2401.00001"]), confirmed=True
        )
        today = daily_edition(session, papers)  # the seed is not a candidate
        delivery = pending_delivery(session, today.id, reader.id)
        rank_and_record(session, [delivery.id], now=NOW)
        picked = delivery.papers or []
    assert [topic_of(p["arxiv_id"]) for p in picked[:3]] == ["diffusion"] * 3
    # Named by its title, though it came in an earlier edition.
    assert picked[0]["reason"].startswith("Resembles your seed paper “Denoising diffusion models”")


def test_a_preview_ranks_exactly_as_the_send_path(sqlite_url: str, monkeypatch):
    """Library seeds, feedback and configured weights: the preview sees all of them."""
    from newsletter.config import get_settings
    from newsletter.render.commands import ranked_picks

    monkeypatch.setenv("NEWSLETTER_RANK_MMR_LAMBDA", "0.5")
    get_settings.cache_clear()
    papers = edition()
    seed = paper("2401.00001", "Denoising diffusion models", "Score matching sampler images.")
    with session_scope() as session:
        add_papers(session, [*papers, seed], NOW - timedelta(days=1))
        reader = add_subscriber(
            session,
            "s@example.org",
            Preferences(seed_papers=["2401.00001"], keywords=["reinforcement learning"]),
            confirmed=True,
        )
        session.add(Feedback(subscriber_id=reader.id, arxiv_id="graph.1", kind=FeedbackKind.HIDDEN))
        today = daily_edition(session, papers)
        preview = ranked_picks(session, today, reader)
        delivery = pending_delivery(session, today.id, reader.id)
        rank_and_record(session, [delivery.id], now=NOW)
        sent = delivery.papers or []
    assert [p["arxiv_id"] for p in preview] == [p["arxiv_id"] for p in sent]
    assert [p["reason"] for p in preview] == [p["reason"] for p in sent]
    assert "graph.1" not in [p["arxiv_id"] for p in sent]


def test_two_likes_and_two_hides_favour_the_liked_theme_over_papers_unlike_either():
    # As arxiv-sanity counts every untagged paper against a tag, the edition's mean
    # paper counts against the liked theme: without it, two likes and two hides teach
    # only "not diffusion", and a paper on any third topic scores like the liked ones.
    from newsletter.ranking.signals.feedback import learned
    from newsletter.ranking.signals.references import reference_papers

    papers = edition()
    model = fit_edition(papers)
    ids = [p.arxiv_id for p in papers]
    rl = [a for a in ids if topic_of(a) == "rl"]
    diffusion = [a for a in ids if topic_of(a) == "diffusion"]
    reader = Profile(liked=rl[:2], hidden=diffusion[:2])
    refs = reference_papers(model, [reader], {})

    def margin(background: float) -> float:
        scores, has_model = learned(
            model, [reader], refs, RankWeights(min_feedback=4, feedback_background=background)
        )
        assert has_model[0]
        topics = np.array([topic_of(a) for a in ids])
        others = ~np.isin(topics, ["rl", "diffusion"])
        return float(scores[0, topics == "rl"].mean() - scores[0, others].max())

    assert margin(10.0) > 0
    assert margin(10.0) > margin(0.0)


def test_a_reader_who_wrote_keywords_keeps_their_words_weight_against_the_feedback_model():
    """The cross-validated feedback share was chosen on readers with likes only; readers
    with their own words mix the model in with text_feedback_weight and need more labels."""
    from newsletter.ranking.signals import feedback

    weights = RankWeights(feedback_weight=0.85, text_feedback_weight=0.35)
    words = Profile(keywords=["benchmarks"], liked=["a", "b"], hidden=["c", "d"])
    likes_only = Profile(liked=["a", "b"], hidden=["c", "d"])
    assert feedback.mix([words, likes_only], weights).tolist() == pytest.approx([0.35, 0.85])
    refs_free = [(p, len(feedback._examples([p], weights))) for p in (words, likes_only)]
    # Four labels train a model for the likes-only reader; the reader with words needs six.
    assert [n for _, n in refs_free] == [0, 1]
