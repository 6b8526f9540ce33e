"""Each ranking signal, the blend, diversity, exclusions and reasons, on hand-made editions."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from newsletter.ranking.phrases import PhraseIndex
from newsletter.ranking.profile import Profile
from newsletter.ranking.score import RankWeights, fit_edition, rank
from tests.ranking.factories import edition, paper, topic_of


def top_ids(profile: Profile, papers=None, k: int = 4, **kwargs) -> list[str]:
    model = fit_edition(papers if papers is not None else edition())
    return [p.arxiv_id for p in rank(model, [profile], k, **kwargs)[0]]


def test_a_keyword_phrase_brings_its_papers_to_the_top():
    picks = top_ids(Profile(keywords=["test-time adaptation"]))
    assert {topic_of(a) for a in picks} == {"tta"}


def test_a_description_alone_finds_its_topic():
    picks = top_ids(Profile(description="an agent that learns a policy from reward"))
    assert {topic_of(a) for a in picks} == {"rl"}


def test_each_seed_paper_pulls_its_own_topic_instead_of_a_blurred_average():
    picks = top_ids(Profile(seed_papers=["graph.1", "diffusion.1"]), k=5)
    topics = [topic_of(a) for a in picks]
    assert set(topics) == {"graph", "diffusion"}
    assert topics.count("graph") >= 2 and topics.count("diffusion") >= 2


def test_a_reader_with_no_interests_gets_the_most_upvoted_papers():
    papers = edition()
    for i, p in enumerate(papers):
        p.upvotes = i * 10
    picks = top_ids(Profile(), papers, k=3)
    assert picks == [papers[-1].arxiv_id, papers[-2].arxiv_id, papers[-3].arxiv_id]


def test_upvotes_do_not_outweigh_relevance_by_default():
    papers = edition()
    papers[0].upvotes = 5000  # graph.1, off-topic for this reader
    picks = top_ids(Profile(keywords=["test-time adaptation"]), papers)
    assert "graph.1" not in picks


def test_newer_papers_win_when_all_else_is_equal():
    papers = [
        paper("old", "Protein folding", "structure prediction of proteins", days_old=20),
        paper("new", "Galaxy surveys", "redshift catalogues of galaxies", days_old=0),
        paper("mid", "Sorting networks", "comparator circuits for sorting", days_old=5),
    ]
    assert top_ids(Profile(), papers, k=3) == ["new", "mid", "old"]


def test_a_shared_category_lifts_a_paper():
    picks = top_ids(Profile(categories=["cs.CV"]))
    assert {topic_of(a) for a in picks} == {"diffusion"}


def test_an_archive_name_matches_all_of_its_categories():
    papers = [
        paper("a", "Alpha", "first", ["math.PR"]),
        paper("b", "Beta", "second", ["cs.LG"]),
    ]
    assert top_ids(Profile(categories=["cs"]), papers, k=1) == ["b"]


def test_the_blend_weights_are_configurable():
    papers = edition()
    papers[0].upvotes = 5000  # graph.1
    reader = Profile(keywords=["test-time adaptation"])
    assert top_ids(reader, papers, k=1)[0].startswith("tta.")
    trend_heavy = RankWeights(trending_weight=10.0, trending_floor=0.0)
    assert top_ids(reader, papers, k=1, weights=trend_heavy) == ["graph.1"]
    # With the relevance floor, popularity only orders papers that are relevant enough.
    floored = RankWeights(trending_weight=10.0, trending_floor=0.5)
    assert top_ids(reader, papers, k=1, weights=floored)[0].startswith("tta.")


def near_duplicates() -> list:
    papers = edition()
    for i in range(6):
        papers.append(
            paper(
                f"dup.{i}",
                f"Message passing graph neural networks for molecules, version {i}",
                "We propose message passing graph neural networks over molecular graphs with "
                "node embeddings and edge features, and beat every graph neural networks "
                "baseline on molecules.",
                ["cs.LG"],
                upvotes=100,
            )
        )
    return papers


def test_no_digest_is_five_near_duplicates():
    reader = Profile(keywords=["graph neural networks", "molecules"])
    picks = top_ids(reader, near_duplicates(), k=5)
    assert sum(a.startswith("dup.") for a in picks) == 1
    assert len(picks) == 5


def test_without_diversity_the_same_reader_would_get_near_duplicates():
    # The control for the test above: the duplicates really do outscore everything else.
    reader = Profile(keywords=["graph neural networks", "molecules"])
    plain = RankWeights(mmr_lambda=1.0, duplicate_similarity=1.01)
    picks = top_ids(reader, near_duplicates(), k=5, weights=plain)
    assert sum(a.startswith("dup.") for a in picks) == 5


def test_papers_already_sent_are_never_repeated():
    reader = Profile(keywords=["test-time adaptation"], already_sent=["tta.1", "tta.2"])
    picks = top_ids(reader, k=20)
    assert "tta.1" not in picks and "tta.2" not in picks
    assert len(picks) == 18


def test_hidden_papers_never_come_back_and_their_lookalikes_sink():
    papers = edition()
    before = top_ids(Profile(), papers, k=20)
    after = top_ids(Profile(hidden=["diffusion.1"]), papers, k=20)
    assert "diffusion.1" in before and "diffusion.1" not in after
    first_diffusion = min(i for i, a in enumerate(after) if a.startswith("diffusion."))
    assert first_diffusion >= 12  # behind every other topic's papers


def test_a_negative_keyword_excludes_every_paper_containing_it():
    reader = Profile(keywords=["benchmarks"], negative_keywords=["Diffusion Model"])
    picks = top_ids(reader, k=20)
    assert len(picks) == 16
    assert not any(a.startswith("diffusion.") for a in picks)


def test_every_pick_says_why():
    papers = edition(upvotes=0)
    papers[4].upvotes = 120  # diffusion.1
    model = fit_edition(papers)
    readers = [
        Profile(keywords=["test-time adaptation"]),
        Profile(seed_papers=["graph.1"]),
        Profile(liked=["rl.1"]),
        Profile(categories=["cs.CV"]),
        Profile(description="chain-of-thought prompting of language models"),
    ]
    picks = rank(model, readers, 1)
    reasons = [p[0].reason for p in picks]
    assert reasons[0].startswith("Your keyword 'test-time adaptation' in the ")
    assert reasons[1].startswith("Resembles your seed paper “")
    assert reasons[2].startswith("Resembles “") and reasons[2].endswith("”, which you liked")
    assert picks[3][0].arxiv_id == "diffusion.1"
    assert reasons[3] == "In your category cs.CV"  # the card shows the upvotes beside it
    assert reasons[4] == "Related to your description"
    assert all(p[0].score > 0 for p in picks)


def test_ranking_many_readers_at_once_equals_ranking_each_alone():
    model = fit_edition(near_duplicates())
    readers = [
        Profile(keywords=["test-time adaptation"], categories=["cs.LG"]),
        Profile(seed_papers=["graph.1", "rl.2"], hidden=["llm.1"]),
        Profile(),
        Profile(keywords=["molecules"], negative_keywords=["version 3"], already_sent=["dup.0"]),
        Profile(description="denoising images", liked=["diffusion.2"]),
    ]
    together = rank(model, readers, 5, chunk_size=2)
    alone = [rank(model, [r], 5)[0] for r in readers]
    assert [[p.arxiv_id for p in ps] for ps in together] == [
        [p.arxiv_id for p in ps] for ps in alone
    ]
    assert [[p.reason for p in ps] for ps in together] == [[p.reason for p in ps] for ps in alone]


def test_seed_papers_outside_the_edition_steer_through_the_library():
    library = {"old.1": "Diffusion models. Denoising score matching generates images from noise."}
    model = fit_edition(edition())
    picks = rank(model, [Profile(seed_papers=["old.1"])], 3, library=library)[0]
    assert {topic_of(p.arxiv_id) for p in picks} == {"diffusion"}
    assert picks[0].reason.startswith("Resembles your seed paper old.1")


def test_an_empty_edition_gives_empty_digests():
    model = fit_edition([])
    assert rank(model, [Profile(keywords=["x"]), Profile()], 5) == [[], []]


def test_a_digest_is_never_padded_with_excluded_papers():
    papers = edition()[:3]
    reader = Profile(already_sent=[papers[0].arxiv_id], hidden=[papers[1].arxiv_id])
    assert top_ids(reader, papers, k=5) == [papers[2].arxiv_id]


def test_phrases_match_ignoring_case_punctuation_and_plurals():
    index = PhraseIndex(
        [
            "Test Time Adaptations for vision",
            "test-time adaptation, revisited",
            "adaptation at test time",
        ]
    )
    assert list(index.rows("test-time adaptation")) == [0, 1]
    assert list(index.rows("Adaptation")) == [0, 1, 2]
    assert list(index.rows("no such words")) == []


def test_weights_come_from_the_settings(monkeypatch):
    from newsletter.config import get_settings
    from newsletter.ranking.weights import configured_weights

    monkeypatch.setenv("NEWSLETTER_RANK_TRENDING_WEIGHT", "0.5")
    monkeypatch.setenv("NEWSLETTER_RANK_MMR_LAMBDA", "0.9")
    monkeypatch.setenv("NEWSLETTER_RANK_DENSE_TEXT_WEIGHT", "0.5")
    monkeypatch.setenv("NEWSLETTER_RANK_DENSE_PAPER_WEIGHT", "0")
    monkeypatch.setenv("NEWSLETTER_RANK_EXPANSION_WEIGHT", "0.25")
    monkeypatch.setenv("NEWSLETTER_RANK_EXPANSION_DEPTH", "3")
    get_settings.cache_clear()
    weights = configured_weights()
    # model_construct: the defaults, not read from the (patched) environment.
    assert weights == RankWeights.model_construct(
        trending_weight=0.5,
        mmr_lambda=0.9,
        dense_text_weight=0.5,
        dense_paper_weight=0.0,
        expansion_weight=0.25,
        expansion_depth=3,
    )
    assert weights is get_settings().ranking  # the settings section is the weights object


def test_a_negative_keyword_only_in_an_abstract_demotes_rather_than_excludes():
    papers = [
        paper("about", "Diffusion models for images", "We train diffusion models on images."),
        paper("mention", "Graph neural networks", "Unlike diffusion models, we pass messages."),
        paper("other", "Graph neural networks at scale", "We pass messages on big graphs."),
    ]
    model = fit_edition(papers)
    plain = Profile(keywords=["graph neural networks"])
    picky = Profile(keywords=["graph neural networks"], negative_keywords=["diffusion models"])
    before, after = ({p.arxiv_id: p.score for p in rank(model, [r], 3)[0]} for r in (plain, picky))
    assert set(before) == {"about", "mention", "other"}
    assert set(after) == {"mention", "other"}  # "about" has it in the title
    assert after["mention"] == pytest.approx(before["mention"] - RankWeights().negative_penalty)
    assert after["other"] == pytest.approx(before["other"])


def test_query_vectors_equal_scikit_learns_tfidf_of_the_same_text():
    from newsletter.ranking.model import analyze

    papers = edition()
    model = fit_edition(papers)
    texts = [p.text for p in papers]
    ours = model.query_vectors([[(t, 1.0)] for t in texts])
    assert abs(ours - model.matrix).max() < 1e-6
    reference = TfidfVectorizer(ngram_range=(1, 2), stop_words="english")
    assert all(reference.build_analyzer()(t) == analyze(t) for t in texts)


def test_the_edition_fit_equals_scikit_learns_tfidf_up_to_column_order():
    from newsletter.ranking.model import analyze, fit_tfidf

    texts = [p.text for p in edition()] * 3  # >= 20 texts, so max_df prunes common terms
    texts += ["A paper on graph neural networks for molecules", "the of and"]
    vocabulary, idf, matrix = fit_tfidf(texts)
    reference = TfidfVectorizer(analyzer=analyze, sublinear_tf=True, max_df=0.5)
    theirs = reference.fit_transform(texts)
    assert set(vocabulary) == set(reference.vocabulary_)
    order = [reference.vocabulary_[term] for term in sorted(vocabulary, key=vocabulary.get)]
    assert abs(matrix - theirs[:, order]).max() < 1e-6
    assert np.allclose(idf, reference.idf_[order])


def test_a_passing_mention_in_the_abstract_earns_less_than_the_full_keyword_bonus():
    papers = [
        paper("about", "Diffusion models for images", "We train diffusion models on images."),
        paper(
            "mention",
            "The carbon footprint of training",
            "We measure the energy of training language models and diffusion models.",
        ),
        paper("other", "Graph neural networks at scale", "We pass messages on big graphs."),
    ]
    model = fit_edition(papers)
    reader = Profile(keywords=["diffusion models"], description="image generation")
    plain, scaled = (
        {p.arxiv_id: p.score for p in rank(model, [reader], 3, weights=w)[0]}
        for w in (RankWeights(mention_scaled=False), RankWeights(mention_scaled=True))
    )
    assert scaled["about"] == pytest.approx(plain["about"])  # in the title: full bonus
    assert scaled["mention"] < plain["mention"]


def test_without_embeddings_the_readers_best_matches_bring_papers_in_other_words():
    """Pseudo-relevance feedback: the dengue paper never says "epidemic forecasting"."""
    items = [
        *edition(),
        paper("epi.1", "Epidemic forecasting with weekly case counts",
              "We forecast influenza outbreaks from weekly case counts and mobility data."),
        paper("epi.2", "Probabilistic epidemic forecasting ensembles",
              "Ensembles forecast weekly case counts of outbreaks across regions."),
        paper("den.1", "Predicting dengue outbreaks",
              "Weekly case counts of dengue outbreaks follow rainfall and mobility data."),
        paper("fc.1", "Forecasting electricity demand",
              "Load forecasting for power grids with gradient boosting."),
    ]  # fmt: skip
    reader = Profile(keywords=["epidemic forecasting"])
    model = fit_edition(items)
    off = [
        p.arxiv_id for p in rank(model, [reader], 4, weights=RankWeights(expansion_weight=0.0))[0]
    ]
    on = [p.arxiv_id for p in rank(model, [reader], 4)[0]]
    assert set(off[:2]) == set(on[:2]) == {"epi.1", "epi.2"}
    assert "den.1" not in off  # shares no word with "epidemic forecasting"
    assert "den.1" in on  # but much with the reader's two best matches


def test_no_two_picks_of_one_digest_carry_the_same_reason_text():
    papers = edition(upvotes=0)
    model = fit_edition(papers)
    picks = rank(model, [Profile(categories=["cs.LG"]), Profile(categories=["cs.CV"])], 5)
    for reader in picks:
        reasons = [p.reason for p in reader]
        assert len(reasons) > 1
        assert len(set(reasons)) == len(reasons), reasons


def test_a_keyword_says_whether_it_was_found_in_the_title_or_the_abstract():
    papers = edition(upvotes=0)
    model = fit_edition(papers)
    [picks] = rank(model, [Profile(keywords=["test-time adaptation"])], 5)
    for pick in picks:
        title = model.papers[model.index[pick.arxiv_id]].title.lower()
        if pick.reason.startswith("Your keyword"):
            where = "title" if "test-time adaptation" in title else "abstract"
            assert pick.reason.startswith(f"Your keyword 'test-time adaptation' in the {where}")
