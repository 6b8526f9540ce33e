"""The TL;DR of a card: Hugging Face's summary, else the sentence that says what is done."""

from newsletter.summary import key_sentence, sentences, tldr

OOD = (
    "Out-of-distribution (OOD) detection is crucial for deploying models in the wild. "
    "Existing methods, e.g. energy scores, rely on a fixed threshold. "
    "In this paper, we propose FlowOOD, a normalizing-flow detector trained on 10^6 images "
    "that gains 4.2% AUROC over Mahalanobis et al. on ImageNet-O. "
    "Code is released."
)
SHOW_ONLY = (
    "Large language models hallucinate. "
    "We show that a 7B model fine-tuned on 2k examples matches GPT-4 on TruthfulQA. "
    "Our analysis suggests data quality matters more than scale."
)
NO_CUE = "A survey of diffusion models for audio. Covers 212 papers from 2019 to 2025."


def test_the_key_sentence_is_the_contribution_not_the_background():
    assert key_sentence(OOD).startswith("We propose FlowOOD")


def test_a_propose_sentence_beats_an_earlier_show_sentence():
    abstract = "We show that X fails. We introduce Y, which fixes X."
    assert key_sentence(abstract) == "We introduce Y, which fixes X."


def test_a_results_sentence_is_taken_when_nothing_is_proposed():
    assert key_sentence(SHOW_ONLY).startswith("We show that a 7B model")


def test_an_abstract_without_any_cue_gives_its_first_sentence():
    assert key_sentence(NO_CUE) == "A survey of diffusion models for audio."


def test_abbreviations_do_not_split_a_sentence():
    assert sentences(OOD)[1] == "Existing methods, e.g. energy scores, rely on a fixed threshold."


def test_hugging_face_summary_wins_over_the_abstract():
    assert tldr("T", OOD, "  FlowOOD detects OOD\nimages with flows. ") == (
        "FlowOOD detects OOD images with flows."
    )


def test_a_paper_without_abstract_or_summary_has_no_tldr():
    assert tldr("Only a title", "", None) == ""
    assert tldr("Only a title", "   ", "") == ""


def test_a_very_long_key_sentence_is_cut_at_a_word():
    long = "We propose " + "a very long method name " * 40 + "."
    out = tldr("T", long, None)
    assert len(out) <= 320 and out.endswith("…") and " nam…" not in out


def test_an_opener_that_points_back_is_dropped_so_the_sentence_stands_alone():
    assert key_sentence("X is hard. Hence, we introduce Y.") == "We introduce Y."
    assert key_sentence("A gap. To address this misalignment, we train Z.") == "We train Z."
    assert key_sentence("Prior work fails. To this end, our method uses B.") == "Our method uses B."
    assert key_sentence("Thus the field stalled. We propose C.") == "We propose C."


def test_a_capital_after_a_hyphen_is_not_an_initial():
    assert sentences("Gains on ImageNet-O. Code is out.") == [
        "Gains on ImageNet-O.",
        "Code is out.",
    ]
    assert sentences("By J. R. Smith. Done.") == ["By J. R. Smith.", "Done."]
