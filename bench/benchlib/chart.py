"""chart.png, drawn with matplotlib (Debian: python3-matplotlib).

Left: the headline rows as rinit/peer of the medians, one group of bars per
metric, one bar per peer, on a log axis where a bar starts at 1 (rinit = peer)
and is labelled with its ratio. Right: the absolute medians of the numbers
users ask about first (idle memory, restart, start-up), one bar per init.
"""
import math
import sys

from .report import fmt_number

# One colour per init, fixed so every panel agrees.
COLORS = {"rinit": "#2b6cb0", "tini": "#1f9e89", "dumb-init": "#e6a117",
          "catatonit": "#8e5ea2", "supervisord": "#d1495b"}
OTHER = "#7f7f7f"

# (metric key, panel title, unit) of the absolute panels.
ABSOLUTE = [("rss_init_kib", "Idle memory of the init (RSS)", "KiB"),
            ("restart_ms", "Restart after SIGKILL of a program", "ms"),
            ("startup_ms", "exec of the init → first program running", "ms")]


def _color(name):
    return COLORS.get(name, OTHER)


def _fmt_abs(v, unit):
    if unit == "KiB":
        return f"{v / 1024:.1f} MiB" if v >= 10 * 1024 else f"{v:,.0f} KiB"
    if v >= 1000:
        return f"{v / 1000:.2f} s"
    return f"{v:.2f} ms" if v >= 0.1 else f"{v * 1000:.0f} µs"


def _ratio_panel(ax, res):
    groups = [(r["chart"], r["ratios"]) for r in res["rows"] if r["chart"] and r["ratios"]]
    peers = []
    for _, rat in groups:
        for n in rat:
            if n not in peers:
                peers.append(n)
    finite = [v for _, rat in groups for v in rat.values()
              if isinstance(v, (int, float)) and 0 < v < math.inf]
    lo = 10.0 ** max(-6, math.floor(math.log10(min(finite + [0.5]))) - 1)
    hi = 10.0 ** min(5, math.ceil(math.log10(max(finite + [2.0]))) + 1)
    bar, gap = 0.8, 0.7
    y, ticks, seps = 0.0, [], []
    used = set()
    for label, rat in groups:
        present = [n for n in peers if n in rat]
        top = y
        for n in present:
            v = rat[n]
            never = v == "never" or v == 0
            end = lo if never else min(max(v, lo), hi)
            ax.barh(y, end - 1, left=1, height=bar, color=_color(n),
                    hatch="//" if never else None, edgecolor="white" if never else None,
                    label=None if n in used else n)
            used.add(n)
            if never:
                txt, x, ha = f"{n} never exits", 1.15, "left"
            else:
                txt = f"{fmt_number(v)}×"
                x, ha = (end * 1.12, "left") if v >= 1 else (end / 1.12, "right")
            ax.text(x, y, txt, va="center", ha=ha, fontsize=8.5, color="#222222")
            y += 1
        ticks.append(((top + y - 1) / 2, label))
        y += gap
        seps.append(y - (gap + 1) / 2)
    ax.set_xscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(y - gap + 0.2, -1)
    ax.set_yticks([t for t, _ in ticks], [lab for _, lab in ticks], fontsize=10)
    ax.tick_params(axis="y", length=0)
    for s in seps[:-1]:
        ax.axhline(s, color="#dddddd", lw=0.8)
    ax.axvline(1, color="black", lw=1)
    ax.grid(axis="x", which="major", color="#e5e5e5")
    ax.set_axisbelow(True)
    ax.xaxis.set_major_formatter(_formatter(_fmt_tick))
    ax.set_xlabel("rinit ÷ peer, medians (log scale): left of 1 = rinit smaller or faster")
    ax.set_title("rinit compared with each peer", loc="left", fontweight="bold")
    ax.legend(loc="lower right", fontsize=9, title="peer", frameon=True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _fmt_tick(v):
    """0.0001 rather than 1e-04; 1,000 rather than 1000."""
    if v >= 1:
        return f"{v:,.0f}"
    return f"{v:.{max(1, -math.floor(math.log10(v) + 1e-9))}f}"


def _formatter(f):
    from matplotlib.ticker import FuncFormatter
    return FuncFormatter(lambda v, _pos: f(v))


def _absolute_panel(ax, res, key, title, unit):
    per = res["metrics"].get(key) or {}
    names = [n for n, e in res["inits"].items()
             if not e.get("skipped") and n in per and "median" in per[n]
             and (n == "rinit" or not n.startswith("rinit"))]
    if not names:
        ax.set_axis_off()
        ax.set_title(f"{title}: not measured", loc="left", fontsize=10)
        return
    absent = [n for n, e in res["inits"].items()
              if not e.get("skipped") and n not in names and not n.startswith("rinit")]
    note = f"\nno value for {', '.join(absent)}: not supervisors" if absent else ""
    vals = [per[n]["median"] for n in names]
    ys = range(len(names))
    ax.barh(list(ys), vals, height=0.7, color=[_color(n) for n in names])
    ax.set_xscale("log")
    vmax = max(vals)
    ax.set_xlim(min(vals) / 3, vmax * 12)
    for y, v in zip(ys, vals):
        ax.text(v * 1.15, y, _fmt_abs(v, unit), va="center", fontsize=8.5)
    ax.set_yticks(list(ys), names, fontsize=9)
    ax.invert_yaxis()
    ax.tick_params(axis="y", length=0)
    ax.xaxis.set_major_formatter(_formatter(_fmt_tick))
    ax.set_xlabel(f"median, {unit} (log scale){note}", fontsize=8.5)
    ax.tick_params(axis="x", labelsize=8)
    ax.grid(axis="x", color="#eeeeee")
    ax.set_axisbelow(True)
    ax.set_title(title, loc="left", fontsize=10, fontweight="bold")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def draw(path, res, title):
    """Write chart.png; returns False (with a note on stderr) when matplotlib
    is missing, so that the benchmark's results still count."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        print(f"chart.png not drawn: matplotlib is missing ({e}); "
              "apt-get install python3-matplotlib", file=sys.stderr)
        return False
    n_bars = sum(len(r["ratios"]) for r in res["rows"] if r["chart"] and r["ratios"])
    height = max(7.5, 0.24 * n_bars + 2.5)
    fig = plt.figure(figsize=(13, height), dpi=100)
    grid = fig.add_gridspec(len(ABSOLUTE), 2, width_ratios=[1.55, 1], wspace=0.32, hspace=0.6,
                            top=0.93)
    _ratio_panel(fig.add_subplot(grid[:, 0]), res)
    for i, (key, t, unit) in enumerate(ABSOLUTE):
        _absolute_panel(fig.add_subplot(grid[i, 1]), res, key, t, unit)
    m = res.get("machine", {})
    fig.suptitle(title, x=0.01, y=0.985, ha="left", fontsize=14, fontweight="bold")
    fig.text(0.01, 0.005, f"{res.get('date', '')[:10]}, {m.get('cpus', '?')} CPUs ({m.get('cpu', '')}), "
             f"kernel {m.get('kernel', '')}; bench/results/results.md has every number",
             fontsize=8, color="#555555")
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return True
