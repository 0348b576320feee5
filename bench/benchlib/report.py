"""Summaries (median, min-max), the rinit/peer ratios, the goals, and the
results.md / results.json / console writers."""
import json
import statistics
from dataclasses import dataclass


@dataclass
class Row:
    key: str            # sample key (or "size_bytes", filled from sysinfo)
    label: str
    unit: str
    dec: int            # decimals shown
    none_text: str = "never"
    goal: tuple = None  # (op, threshold, text)  op in "<=", "=="
    chart: str = ""     # non-empty: drawn in chart.png under this short label
    ratio: bool = True  # show rinit/peer


def rows(params):
    o, n = params["orphans"], params["scale_procs"]
    w = params["idle_window_s"]
    win = "" if w == 10 else f" (measured over {w:g} s)"
    st = params["stubborn_timeout_s"]
    return [
        Row("rss_init_kib", "1. Idle RSS of the init, 2 programs", "KiB", 0,
            goal=("<=", 500, "≤ 500"), chart="idle RSS"),
        Row("pss_init_kib", "1. Idle PSS of the init, 2 programs", "KiB", 0),
        Row("rss_overhead_kib", "1. Idle RSS of the tree minus the 2 programs", "KiB", 0),
        Row("ctxsw_init", f"2. Idle context switches of the init / 10 s{win}", "", 0,
            goal=("==", 0, "= 0")),
        Row("restart_ms", "3. Restart: SIGKILL of a program up 1.2 s -> new process running",
            "ms", 2, "no restart in 8 s", goal=("<=", 2, "≤ 2"), chart="restart"),
        Row("orphan_clear_after_end_ms",
            f"4. {o:,} orphans: burst end -> no zombie left", "ms", 1,
            "not cleared in 60 s", goal=("<=", 11, "≤ 11"), chart=f"{o} orphans"),
        Row("orphan_peak_zombies", "4. Peak zombies (sampled every 50 ms)", "", 0, ratio=False),
        Row("orphan_burst_ms", "4. Burst duration (the generator's, for reference)", "ms", 0,
            ratio=False),
        Row("term_child_ms", "5. kill -TERM init -> child has TERM", "ms", 2,
            "never", goal=("<=", 0.2, "≤ 0.2"), chart="TERM->child"),
        Row("term_exit_ms", "5. kill -TERM init -> init exited", "ms", 2,
            "no exit", chart="TERM->exit"),
        Row("stubborn_exit_ms",
            "6. TERM-ignoring child, 2 s stop timeout: kill -TERM -> init exited", "ms", 0,
            f"no exit in {st:g} s", chart="stubborn"),
        Row("startup_ms", "7. exec of the init -> first program running", "ms", 2,
            goal=("<=", 2.5, "≤ 2.5"), chart="exec->1st prog"),
        Row("startup_ir", "7. Instructions (callgrind): exec -> first program -> TERM -> exit",
            "Ir", 0, chart="instructions"),
        Row("size_bytes", "8. Binary size (ls -l)", "B", 0,
            goal=("<=", 700_000, "≤ 700,000, static"), chart="binary size"),
        Row("scale_startup_ms", f"9. numprocs={n:,}: exec -> all {n:,} running", "ms", 0,
            f"not all in {params['scale_timeout_s']} s", goal=("<=", 200, "≤ 200"),
            chart=f"{n} start-up"),
        Row("scale_rss_kib", f"9. numprocs={n:,}: RSS of the init", "KiB", 0,
            goal=("<=", 2048, "≤ 2,048"), chart=f"{n} RSS"),
        Row("scale_pss_kib", f"9. numprocs={n:,}: PSS of the init", "KiB", 0),
        Row("scale_ctxsw", f"9. numprocs={n:,}: idle context switches / 10 s{win}", "", 0,
            goal=("==", 0, "= 0")),
        Row("scale_restart_ms", f"9. numprocs={n:,}: restart latency of one", "ms", 2,
            "no restart in 8 s", chart=f"{n} restart"),
        # 10: output throughput (helpers/benchhelper.c `flood`, docs/output.md)
        Row("flood_file_mbps", "10a. Output to a rotating log file: MB/s reaching it", "MB/s", 0),
        Row("flood_file_cpu_pct", "10a. ... CPU of the init", "%", 0),
        Row("flood_file_rss_kib", "10a. ... peak RSS of the init", "KiB", 0,
            goal=("<=", 2048, "≤ 2,048")),
        Row("flood_stdout_mbps", "10b. Output to stdout, prefixed (rinit) / copied (supervisord): MB/s",
            "MB/s", 0),
        Row("flood_stdout_cpu_pct", "10b. ... CPU of the init", "%", 0),
        Row("flood_stdout_rss_kib", "10b. ... peak RSS of the init", "KiB", 0,
            goal=("<=", 2048, "≤ 2,048")),
        Row("flood_auto_mbps", "10c. AUTO output (rinit: pass-through): MB/s", "MB/s", 0),
        Row("flood_auto_copied_mb", "10c. ... MB read by the init", "MB", 0,
            goal=("==", 0, "= 0"), ratio=False),
    ]


def summarize(samples):
    nums = [x for x in samples if x is not None]
    out = {"n": len(samples), "missing": len(samples) - len(nums), "samples": samples}
    if nums:
        out.update(median=statistics.median(nums), min=min(nums), max=max(nums))
    return out


def fmt(x, dec):
    return f"{x:,.{dec}f}"


def cell(stats, dec, none_text):
    if not stats:
        return "–"
    if "median" not in stats:
        return none_text
    s = fmt(stats["median"], dec)
    if stats["min"] != stats["max"] and fmt(stats["min"], dec) != fmt(stats["max"], dec):
        s += f" ({fmt(stats['min'], dec)}–{fmt(stats['max'], dec)})"
    if stats["missing"]:
        s += f"; {none_text}: {stats['missing']} of {stats['n']}"
    return s


def ratio(a, b):
    """rinit/peer of the medians; None when not both measured.  A missing
    median (the peer never did it) counts as infinitely slow."""
    if not a or not b or "median" not in a:
        return None
    if "median" not in b:
        return "never"  # the peer never did it: rinit is infinitely faster
    x, y = a["median"], b["median"]
    if y == 0:
        return None if x == 0 else float("inf")
    return x / y


def fmt_ratio(r):
    if r is None:
        return ""
    if r == "never":
        return "0 (peer: never)"
    if r == 0:
        return "0"
    if r == float("inf"):
        return "∞"
    return fmt_number(r)


def fmt_number(r):
    """A ratio with as many digits as it needs (also the chart's labels)."""
    if r >= 100:
        return f"{r:,.0f}"
    if r >= 0.1:
        return f"{r:.2f}"
    return f"{r:.2g}"


def check_goal(row, stats, res):
    """'✓' / '✗' / '' for rinit's median against the goal."""
    if not row.goal or not stats or "median" not in stats:
        return "✗" if row.goal and stats else ""
    op, thr, _ = row.goal
    v = stats["median"]
    ok = v <= thr if op == "<=" else round(v) == thr
    if row.key == "size_bytes":
        ok = ok and stats.get("linkage") == "static"
    return "✓" if ok else "✗"


def build_table(res):
    """Fills res['rows'] (a list of dicts) from res['metrics'] and sizes."""
    names = [n for n, e in res["inits"].items() if not e.get("skipped")]
    rinit = next((n for n, e in res["inits"].items() if e.get("is_rinit") and n in names), None)
    out = []
    for row in rows(res["params"]):
        if row.key == "size_bytes":
            # the ratio uses every file sized (supervisord: its script + python3)
            per = {}
            for n, e in res["inits"].items():
                bs = [b for b in e["binaries"] if not b.get("missing")]
                if n in names and bs:
                    total = sum(b["bytes"] for b in bs)
                    per[n] = {"n": 1, "missing": 0, "samples": [total], "median": total,
                              "min": total, "max": total, "linkage": bs[0]["linkage"]}
        else:
            per = res["metrics"].get(row.key)
        if not per:
            continue
        r = {"key": row.key, "label": row.label, "unit": row.unit, "cells": {},
             "ratios": {}, "goal": row.goal[2] if row.goal else "", "chart": row.chart}
        for n in names:
            r["cells"][n] = cell(per.get(n), row.dec, row.none_text)
            if row.key == "size_bytes" and n in per:
                bs = [b for b in res["inits"][n]["binaries"] if not b.get("missing")]
                r["cells"][n] = " + ".join(
                    (f"{b['path'].rsplit('/', 1)[-1]} " if len(bs) > 1 else "") +
                    f"{b['bytes']:,}, {b['linkage']}" for b in bs)
            if row.ratio and rinit and n != rinit and not n.startswith("rinit"):
                rr = ratio(per.get(rinit), per.get(n))
                if rr is not None:
                    r["ratios"][n] = rr
        if rinit:
            r["met"] = check_goal(row, per.get(rinit), res)
            r["rinit_median"] = (per.get(rinit) or {}).get("median")
        out.append(r)
    res["rows"] = out
    res["goals"] = []
    if rinit:
        done = {r["key"]: r for r in out}
        for row in rows(res["params"]):
            if not row.goal:
                continue
            r = done.get(row.key)
            res["goals"].append({
                "key": row.key, "metric": row.label, "goal": row.goal[2],
                "rinit": r["cells"].get(rinit) if r else None,
                "met": None if not r or not r.get("met") else r["met"] == "✓"})
    return names, rinit


def markdown_table(res, names):
    head = ["metric", "unit", "goal (rinit)"] + names
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in res["rows"]:
        goal = f"{r['goal']} {r.get('met', '')}".strip() if r["goal"] else ""
        cells = []
        for n in names:
            c = r["cells"].get(n, "–")
            if n in r["ratios"]:
                c += f"<br>*rinit/{n}* **{fmt_ratio(r['ratios'][n])}**"
            cells.append(c)
        lines.append(f"| {r['label']} | {r['unit']} | {goal} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def text_table(res, names):
    """The console version: one line of medians (min–max), one of ratios."""
    w0 = max(len(f"{r['label']} [{r['unit']}]") for r in res["rows"]) + 2
    cols = {n: max([len(n)] + [len(r["cells"].get(n, "–")) for r in res["rows"]]) + 2
            for n in names}
    out = ["metric".ljust(w0) + "goal".ljust(20) + "".join(n.ljust(cols[n]) for n in names)]
    out.append("-" * len(out[0]))
    for r in res["rows"]:
        goal = f"{r['goal']} {r.get('met', '')}".strip() if r["goal"] else ""
        out.append(f"{r['label']} [{r['unit']}]".ljust(w0) + goal.ljust(20) +
                   "".join(r["cells"].get(n, "–").ljust(cols[n]) for n in names))
        if r["ratios"]:
            out.append(" " * w0 + "rinit/peer".ljust(20) + "".join(
                (fmt_ratio(r["ratios"][n]) if n in r["ratios"] else "").ljust(cols[n])
                for n in names))
    return "\n".join(out) + "\n"


def write_json(path, res):
    with open(path, "w") as f:
        json.dump(res, f, indent=1, ensure_ascii=False)
        f.write("\n")


def goals_text(res):
    g = res.get("goals") or []
    if not g:
        return ""
    met = sum(x["met"] is True for x in g)
    unmeasured = sum(x["met"] is None for x in g)
    s = f"goals met: {met} of {len(g)}"
    if unmeasured:
        s += f" ({unmeasured} not measured in this run)"
    return s
