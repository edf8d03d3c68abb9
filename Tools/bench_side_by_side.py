#!/usr/bin/env python3
"""Aggregates the runs of Tools/bench-side-by-side.sh into a markdown table and one JSON file.

Usage: bench_side_by_side.py RUN_DIR OUT_JSON [META_JSON]
RUN_DIR holds <index>.json files (one per run, the JSON array that `swiftfile --bench -o json` or
Tools/bench_llamacpp.py printed) and a runs.tsv listing "index<TAB>round<TAB>engine<TAB>model<TAB>others_cpu"
per run (others_cpu: the share of all CPUs that other processes used during the run; nan if unknown).
Prints: model | test | swiftfile t/s (median) | llama.cpp t/s (median) | ratio (median of the per-round ratios),
the ratio marked with * where some run of that row shared the machine with more than 10 % other load.
"""
import json
import math
import os
import statistics
import sys

ENGINES = ("swiftfile", "llama.cpp")
BUSY = 0.10  # others_cpu above this marks a row


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    run_dir, out_json = sys.argv[1], sys.argv[2]
    meta = {}
    if len(sys.argv) == 4:
        with open(sys.argv[3]) as f:
            meta = json.load(f)

    samples = []  # one row per (run, test)
    with open(os.path.join(run_dir, "runs.tsv")) as f:
        for line in f:
            if not line.strip():
                continue
            index, rnd, engine, model, others = line.rstrip("\n").split("\t")
            others = float(others)
            others = None if math.isnan(others) else others
            with open(os.path.join(run_dir, f"{index}.json")) as rf:
                tests = json.load(rf)
            for t in tests:
                test = t.get("test") or (f"pp{t['n_prompt']}" if t["n_prompt"] else f"tg{t['n_gen']}")
                for ts in t["samples_ts"]:
                    samples.append({"model": model, "round": int(rnd), "engine": engine, "test": test,
                                    "tokens_per_second": ts, "others_cpu": others, "load_ms": t.get("load_ms"),
                                    "repacked": t.get("repacked"), "raw": t})

    # (model, test) in first-seen order; per engine, per round
    keys = []
    table = {}
    for s in samples:
        key = (s["model"], s["test"])
        if key not in table:
            keys.append(key)
            table[key] = {e: {} for e in ENGINES}
            table[key]["others"] = []
        if s["others_cpu"] is not None:
            table[key]["others"].append(s["others_cpu"])
        table[key][s["engine"]].setdefault(s["round"], []).append(s["tokens_per_second"])

    rows = []
    for model, test in keys:
        per = table[(model, test)]
        ours = [v for r in sorted(per["swiftfile"]) for v in per["swiftfile"][r]]
        theirs = [v for r in sorted(per["llama.cpp"]) for v in per["llama.cpp"][r]]
        ratios = [statistics.median(per["swiftfile"][r]) / statistics.median(per["llama.cpp"][r])
                  for r in sorted(per["swiftfile"]) if r in per["llama.cpp"]]
        rows.append({"model": model, "test": test,
                     "swiftfile_median_ts": statistics.median(ours) if ours else None,
                     "llamacpp_median_ts": statistics.median(theirs) if theirs else None,
                     "ratio_median": statistics.median(ratios) if ratios else None,
                     "rounds": len(ratios), "max_others_cpu": max(per["others"], default=None), "swiftfile_ts": ours, "llamacpp_ts": theirs, "ratios": ratios})

    def fmt(x, digits=1):
        return "—" if x is None else f"{x:.{digits}f}"

    print("| model | test | swiftfile t/s (median) | llama.cpp t/s (median) | ratio (median) |")
    print("| --- | --- | ---: | ---: | ---: |")
    busy = False
    for r in rows:
        mark = " *" if (r["max_others_cpu"] or 0) > BUSY else ""
        busy = busy or bool(mark)
        print(f"| {r['model']} | {r['test']} | {fmt(r['swiftfile_median_ts'])} | {fmt(r['llamacpp_median_ts'])} | "
              f"{fmt(r['ratio_median'], 2)}{mark} |")
    if busy:
        print(f"\n\\* other processes used more than {BUSY:.0%} of the CPUs during some of these runs: noisy")

    os.makedirs(os.path.dirname(os.path.abspath(out_json)), exist_ok=True)
    with open(out_json, "w") as f:
        json.dump({"meta": meta, "summary": rows, "samples": samples}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
