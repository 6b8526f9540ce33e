"""`newsletter rank`: rank papers for one profile from JSON files, with no database.

The team's evaluation tools call it as
`newsletter rank --papers PAPERS.json --profile PROFILE.json --top K --json`.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from newsletter.cliutil import ready_database
from newsletter.ranking.dense import DenseVectors
from newsletter.ranking.embed_job import embed_missing
from newsletter.ranking.embedder import EmbeddingsUnavailable, configured_embedder
from newsletter.ranking.files import BadInput, load_papers, load_profile
from newsletter.ranking.profile import CandidatePaper, Profile
from newsletter.ranking.score import fit_edition, rank
from newsletter.ranking.weights import configured_weights


@click.command("rank")
@click.option(
    "--papers",
    "papers_path",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="JSON array of papers: arxiv_id, title, abstract, [categories, upvotes, published_at].",
)
@click.option(
    "--profile",
    "profile_path",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="JSON object: [keywords, categories, description, seed_papers, liked, hidden].",
)
@click.option("--top", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of the picks.")
def rank_command(papers_path: Path, profile_path: Path, top: int, as_json: bool) -> None:
    """Rank the papers for one profile and print the top picks, best first."""
    try:
        papers = load_papers(papers_path)
        profile = load_profile(profile_path, papers)
    except BadInput as exc:
        raise click.ClickException(str(exc)) from None
    weights = configured_weights()
    try:
        dense = _embed_inputs(papers, profile)
    except EmbeddingsUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    model = fit_edition(
        papers, half_life_days=weights.half_life_days, vectors=dense.papers if dense else None
    )
    picks = rank(model, [profile], top, weights=weights, dense=dense)[0]
    if as_json:
        click.echo(json.dumps([p.as_dict() for p in picks], indent=2))
        return
    titles = {p.arxiv_id: p.title for p in papers}
    for number, pick in enumerate(picks, start=1):
        click.echo(f"{number:>3}. {pick.score:6.3f}  {pick.arxiv_id}  {titles[pick.arxiv_id]}")
        click.echo(f"     {pick.reason}")


def _embed_inputs(papers: list[CandidatePaper], profile: Profile) -> DenseVectors | None:
    """With NEWSLETTER_EMBEDDINGS on, embed the files' papers and texts here (no database)."""
    embedder = configured_embedder()
    if embedder is None:
        return None
    texts = profile.texts
    paper_vectors = embedder.encode([p.text for p in papers])
    text_vectors = list(embedder.encode(texts)) if texts else []
    return DenseVectors(
        papers=dict(zip([p.arxiv_id for p in papers], paper_vectors, strict=True)),
        texts=dict(zip(texts, text_vectors, strict=True)),
    )


@click.command("embed")
@click.option(
    "--limit", type=click.IntRange(min=1), default=None, help="Embed at most this many papers."
)
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
def embed_command(limit: int | None, as_json: bool) -> None:
    """Embed papers and readers' texts that have no vector yet (NEWSLETTER_EMBEDDINGS).

    Workers do this after every ingest; run it by hand after turning embeddings on,
    to embed the papers already stored.
    """
    ready_database()
    try:
        result = embed_missing(limit)
    except EmbeddingsUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(result))
    elif not result["enabled"]:
        raise click.ClickException(
            "embeddings are off: set NEWSLETTER_EMBEDDINGS=minilm (see the README) to use them"
        )
    else:
        click.echo(
            f"embedded {result['papers']} papers and {result['texts']} reader texts "
            f"with {result['model']} in {result['seconds']:.1f}s"
        )
