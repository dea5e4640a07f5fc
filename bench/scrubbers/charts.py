"""PNG charts of a run (matplotlib, headless)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .run import CLI1, CLI2, ENGINE, EXIFTOOL, EXIFTOOL2, PILLOW, PILLOW_KEEP

COLORS = {
    CLI1: "#1b9e77",
    ENGINE: "#66c2a5",
    EXIFTOOL: "#7570b3",
    PILLOW: "#d95f02",
    PILLOW_KEEP: "#e6ab02",
    CLI2: "#0b6e57",
    EXIFTOOL2: "#4a458a",
}


def _grouped(rows: Sequence[dict[str, Any]], metric: str, path: Path, ylabel: str, title: str) -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = [g for g in dict.fromkeys(r["group"] for r in rows if not r["group"].startswith("corpus"))]
    contenders = [c for c in COLORS if any(r["contender"] == c and r.get(metric) for r in rows)]
    if not groups or not contenders:
        return None
    width = 0.8 / len(contenders)
    fig, ax = plt.subplots(figsize=(max(8, len(groups) * 0.9), 4.5))
    for index, contender in enumerate(contenders):
        xs, ys = [], []
        for position, group in enumerate(groups):
            row = next((r for r in rows if r["contender"] == contender and r["group"] == group), None)
            if row and row.get(metric):
                xs.append(position + (index - (len(contenders) - 1) / 2) * width)
                ys.append(row[metric])
        ax.bar(xs, ys, width, label=contender, color=COLORS[contender])
    ax.set_yscale("log")
    ax.set_xticks(range(len(groups)), groups, rotation=35, ha="right")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _corpus(rows: Sequence[dict[str, Any]], path: Path) -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    corpus = [r for r in rows if r["group"].startswith("corpus") and r.get("seconds")]
    if not corpus:
        return None
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(corpus) + 1.2))
    labels = [f"{r['contender']}, CPU {','.join(map(str, r['cpus']))} ({r['produced']}/{r['inputs']})" for r in corpus]
    ax.barh(labels, [r["seconds"] for r in corpus], color=[COLORS.get(r["contender"], "#999999") for r in corpus])
    for y, r in enumerate(corpus):
        ax.text(r["seconds"], y, f" {r['seconds']:.1f} s", va="center", fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("seconds for the whole corpus, median of the repetitions (lower is better)")
    ax.set_title("Corpus: total time per scrubber (pinned CPUs; produced/inputs)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def draw(rows: Sequence[dict[str, Any]], directory: Path) -> list[Path]:
    """Write the charts into ``directory``; returns the files written."""
    charts = [
        _grouped(
            rows,
            "p50_s",
            directory / "scrubbers_latency.png",
            "seconds per file (p50, log scale)",
            "Time per file by size and format (lower is better)",
        ),
        _grouped(
            rows,
            "peak_mb",
            directory / "scrubbers_memory.png",
            "peak memory, MiB (log scale)",
            "Peak memory per file by size and format (lower is better)",
        ),
        _corpus(rows, directory / "scrubbers_corpus.png"),
    ]
    return [c for c in charts if c is not None]
