"""Rebuild pubmedqa_pqal.json.gz from a checkout of pubmedqa/pubmedqa (commit 1cbae8e).

Usage: python agents/eval/data/build_slice.py PATH/TO/pubmedqa/data
Keeps every PQA-L item (1,000), its real PMID, question, labelled abstract paragraphs, conclusion
(LONG_ANSWER), label (final_decision) and year; drops MESHES and the reasoning fields. Items of
test_ground_truth.json (the official 500-item test split) come first, in that file's order, then the
other 500 ("dev") in ori_pqal.json's order.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path


def build(data: Path, out: Path) -> int:
    pqal = json.loads((data / "ori_pqal.json").read_text())
    test = json.loads((data / "test_ground_truth.json").read_text())
    items = []
    for pmid in [*test, *(p for p in pqal if p not in test)]:
        item = pqal[pmid]
        items.append({"pmid": pmid, "split": "test" if pmid in test else "dev", "question": item["QUESTION"],
                      "contexts": [{"label": label, "text": text}
                                   for label, text in zip(item["LABELS"], item["CONTEXTS"], strict=True)],
                      "conclusion": item["LONG_ANSWER"], "label": item["final_decision"], "year": item.get("YEAR")})
    body = {"name": "PubMedQA PQA-L", "source": "pubmedqa/pubmedqa@1cbae8e data/ori_pqal.json, "
            "data/test_ground_truth.json", "items": items}
    with gzip.GzipFile(out, "wb", mtime=0) as f:
        f.write(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode())
    return len(items)


if __name__ == "__main__":
    print(build(Path(sys.argv[1]), Path(__file__).with_name("pubmedqa_pqal.json.gz")), "items")
