"""Memory over many submissions: one warm grading process grades N mixed submissions and
reports its resident memory, and its zygote's, every `--every` submissions.

    .venv/bin/python bench/soak.py --n 1000          # writes bench/soak.json
"""

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from run import mixed_submissions  # noqa: E402

from grader.engine.grading import grade, warm_up  # noqa: E402
from grader.engine.sandbox import Zygote  # noqa: E402


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    return None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--every", type=int, default=100)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "soak.json")
    args = parser.parse_args()
    subs = mixed_submissions(args.n)
    warm_up()
    samples, started = [], time.monotonic()
    for i, (_, assignment, data, _) in enumerate(subs, start=1):
        grade(data, assignment)
        if i == 1 or i % args.every == 0:
            samples.append({"graded": i, "grader_rss_mib": rss_mib("self"),
                            "zygote_rss_mib": rss_mib(Zygote.shared().process.pid),
                            "elapsed_s": round(time.monotonic() - started, 1)})
            print(samples[-1], flush=True)
    report = {"n": args.n, "samples": samples,
              "grader_growth_mib_after_first_100": round(samples[-1]["grader_rss_mib"] - samples[1]["grader_rss_mib"], 1)
              if len(samples) > 2 else None}
    args.out.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
