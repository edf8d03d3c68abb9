#!/usr/bin/env python3
"""Logit agreement of the GPU path (Tools/gpu-check.sh), through the runner's --top-logits JSON lines.

  gpu_compare.py golden RUNNER MODEL GOLDEN.json TOL [runner args...]
      prompt ids equal; top-5 logits at the last prompt position and every greedy step (up to the first
      recorded near-tie) within TOL of llama.cpp's recorded ones; greedy ids equal up to that point.
  gpu_compare.py pair RUNNER MODEL TOL STEPS "ARGS A" "ARGS B"
      the same prompts run with two argument sets (e.g. -ngl 0 and -ngl 999): ids equal up to the first
      near-tie, max |Δlogit| over the top-20 ids both list at each step within TOL.
Prints one line per prompt and a summary; exit 1 on any miss.
"""
import json
import subprocess
import sys

PROMPTS = ["The capital of France is", "Once upon a time, there was a little robot who",
           "Café — naïve 🙂 résumé\ndef f(x):\n    return x * 2"]


def run(runner, model, prompt, steps, args, k=20):
    cmd = [runner, "-m", model, "-p", prompt, "-n", str(steps), "--temp", "0", "--top-logits", str(k),
           "--log-disable", "-c", "256"] + args
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise SystemExit(f"runner failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr[-2000:]}")
    ids, steps_out = [], []
    for line in r.stdout.splitlines():
        o = json.loads(line)
        if "prompt" in o:
            ids = o["prompt"]
        else:
            steps_out.append((o["id"], {int(i): v for i, v in o["top"]}))
    return ids, steps_out


def golden(runner, model, path, tol, args):
    g = json.load(open(path))
    worst, bad = 0.0, 0
    for p in g["prompts"]:
        ids, steps = run(runner, model, p["prompt"], len(p["greedy"]), args)
        if ids != p["tokens"]:
            print(f"FAIL prompt ids differ for {p['prompt'][:20]!r}")
            bad += 1
            continue
        delta = max(abs(steps[0][1].get(i, 1e9) - v) for i, v in p["last_top5"])
        worst = max(worst, delta)
        equal = 0
        for s, want in enumerate(p["greedy"]):
            if s >= len(steps):
                break
            d = max(abs(steps[s][1].get(int(i), 1e9) - v) for i, v in p["greedy_top5_per_step"][s])
            worst = max(worst, d)
            if p["greedy_top1_top2_margin"][s] < tol:
                break
            if steps[s][0] != want:
                print(f"FAIL {p['prompt'][:20]!r}: greedy id {steps[s][0]} != {want} at step {s}")
                bad += 1
                break
            equal += 1
        print(f"  {p['prompt'][:24]!r}: greedy ids equal for {equal} steps")
    ok = bad == 0 and worst <= tol
    print(f"{'ok  ' if ok else 'FAIL'} golden {model.split('/')[-1]} {' '.join(args)}: max |Δlogit| {worst:.4g} (bound {tol})")
    return ok


def pair(runner, model, tol, steps, a, b):
    worst, bad, compared = 0.0, 0, 0
    for prompt in PROMPTS:
        ia, sa = run(runner, model, prompt, steps, a.split())
        ib, sb = run(runner, model, prompt, steps, b.split())
        if ia != ib:
            print(f"FAIL prompt ids differ: {prompt[:20]!r}")
            bad += 1
            continue
        for s in range(min(len(sa), len(sb))):
            common = set(sa[s][1]) & set(sb[s][1])
            worst = max([worst] + [abs(sa[s][1][i] - sb[s][1][i]) for i in common])
            top = sorted(sa[s][1].values(), reverse=True)
            if sa[s][0] != sb[s][0]:
                if len(top) > 1 and top[0] - top[1] < tol:
                    break  # near-tie: two correct runs may part here
                print(f"FAIL {prompt[:20]!r}: ids part at step {s} ({sa[s][0]} vs {sb[s][0]})")
                bad += 1
                break
            compared += 1
    ok = bad == 0 and worst <= tol
    print(f"{'ok  ' if ok else 'FAIL'} pair {model.split('/')[-1]} [{a}] vs [{b}]: {compared} steps, max |Δlogit| {worst:.4g} (bound {tol})")
    return ok


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "golden":
        ok = golden(sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]), sys.argv[6:])
    else:
        ok = pair(sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5]), sys.argv[6], sys.argv[7])
    sys.exit(0 if ok else 1)
