"""Write the workbench's example notebooks (``python notebooks/_build.py``); edit them here, not in Jupyter.

The notebooks are committed without outputs. Each starts with a ``parameters`` cell (papermill-style tag)
so that a runner can point it at other data: ``DATA = None`` uses ``sample_dataset()``: the team's crowd-mini
when it is present next to the checkout, and otherwise SYNTHETIC sample images generated once (it says which).
Paths are relative to ``notebooks/``, where a notebook's kernel starts.
"""
from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

PARAMETERS = '''\
# Parameters (a runner such as papermill may override them).
DATA = None                     # a dataset folder; None: sample_dataset(), crowd-mini if present, else synthetic
SPLIT = "test"                  # the split to use ("test", "train") or None for every image
LIMIT = 8                       # at most this many images, so the notebook runs in well under a minute
PLUGINS_DIR = "../plugins"      # the plugins folder, as the service has it
ACTIVE_PLUGINS = "{active}"
DEVICE = "cpu"                  # "cpu" or "gpu"
'''

DATA_SETUP = '''\
%matplotlib inline
from pathlib import Path

from workbench.research import load_dataset, sample_dataset

# sample_dataset(): the team's crowd-mini photos when they are next to the checkout, else generated images.
dataset = (sample_dataset(split=SPLIT) if DATA is None else load_dataset(DATA, split=SPLIT))[:LIMIT]
SYNTHETIC = dataset.name.startswith("synthetic")
print(f"{'synthetic' if SYNTHETIC else 'real'} dataset {dataset.name}: {len(dataset)} images")
dataset'''

DATA_MARKDOWN = (
    "## The data\n\n"
    "`DATA` is a dataset folder: `images/` with `points/<image>.json` head points (the crowd-mini layout), "
    "ShanghaiTech's `images/` + `ground-truth/GT_*.mat`, or a folder of images only (counts without scores). "
    "Left at `None`, the notebook calls `sample_dataset()`: the team's crowd-mini photos when "
    "`../shared/data/crowd-mini` is next to the checkout, and otherwise **synthetic** images generated once "
    "(`make_synthetic_dataset`): drawings of people with exact head points, but not photos — any score on "
    "them only shows that the pipeline runs. The cell below says which one it used."
)

START = '''\
from workbench import Workbench

wb = Workbench(PLUGINS_DIR, ACTIVE_PLUGINS, device=DEVICE).start()
wb'''


def _tagged(source: str) -> nbformat.NotebookNode:
    cell = new_code_cell(source)
    cell.metadata["tags"] = ["parameters"]
    return cell


def quickstart() -> list[nbformat.NotebookNode]:
    return [
        new_markdown_cell(
            "# 01 · Quickstart: load your plugin, count one image\n\n"
            "The workbench runs the service's plugins in this kernel: `Workbench(plugins_dir, active_plugins)` "
            "loads them exactly as the service does (same module names, same `LUNA_REMOTE_SDK_ACTIVE_PLUGINS` "
            "format) and starts a host with its own event loop, so plugins keep running between cells.\n\n"
            "This notebook loads the project's example estimator plugin `people_count_onnx`, counts the people "
            "in one image with it and with the default estimator, and draws the result."
        ),
        _tagged(PARAMETERS.format(active="people_count_onnx.plugin")),
        new_markdown_cell(DATA_MARKDOWN),
        new_code_cell(DATA_SETUP),
        new_markdown_cell(
            "## Start the host\n\n"
            "The table lists every plugin class the active modules defined, its kind and status; a plugin that "
            "failed to import or initialise is shown here with the reason instead of stopping the host. An "
            "estimator replacement plugin takes over its broker when the host starts, as in the service."
        ),
        new_code_cell(START),
        new_code_cell(
            'BROKER = "peopleCountEstimator"\n'
            'PLUGIN = next(name for name in wb.estimator_choices[BROKER] if name != "default")\n'
            'print("in use:", wb.estimators[BROKER], "| choices:", wb.estimator_choices[BROKER])'
        ),
        new_markdown_cell(
            "## Count one image\n\n"
            "`wb.estimate(broker, images)` runs the estimator in use on a list of images (a `VLImage`, a path, "
            "bytes, a numpy array or `(image, Rect)` for a detect area) and returns one `CountResult` per image: "
            "`count`, head `coordinates` (and `pointsArray`) in original-image pixels, `elapsed`, `estimatorName`, "
            "and, for estimators that keep it, the raw `densityMap` with the `densityArea` it covers (a plugin's "
            "SDK `PeopleCount` is wrapped into one by the host)."
        ),
        new_code_cell(
            "sample = dataset[0]\n"
            "[by_plugin] = wb.estimate(BROKER, [sample.image])\n"
            'print(f"{sample.name}: {PLUGIN} counts {by_plugin.count}, annotated {sample.count}")\n'
            "by_plugin"
        ),
        new_markdown_cell(
            "## Switch the estimator live\n\n"
            "`wb.use(broker, name)` swaps the estimator in every worker of the host; `\"default\"` is the "
            "workbench's own ONNX counter. Its results keep the density map, so we can draw it over the photo."
        ),
        new_code_cell(
            'wb.use(BROKER, "default")\n'
            "[by_default] = wb.estimate(BROKER, [sample.image])\n"
            'print(f"{sample.name}: default counts {by_default.count}, annotated {sample.count}; "\n'
            '      f"density map {by_default.densityMap.shape}, sum {by_default.densityMap.sum():.1f}")'
        ),
        new_code_cell(
            "from workbench.research import plot_density_overlay, plot_points\n\n"
            "plot_density_overlay(sample, by_default);"
        ),
        new_markdown_cell(
            "Head points against the annotation: green circles are matched heads (within 10 px, one-to-one), "
            "red crosses false positives, yellow squares missed heads."
        ),
        new_code_cell("plot_points(sample, by_plugin, sample.points, threshold=10);"),
        new_markdown_cell("Put the plugin back in use and close the host (it closes every plugin and estimator)."),
        new_code_cell("wb.use(BROKER, PLUGIN)\nwb.close()"),
    ]


def compare_estimators() -> list[nbformat.NotebookNode]:
    return [
        new_markdown_cell(
            "# 02 · Compare the default estimator with your plugin\n\n"
            "`wb.compare(dataset, estimators)` switches each estimator in on the live host (`wb.use`), runs it "
            "over the dataset and scores every image; the estimator that was in use is restored afterwards, even "
            "if a run fails. The result is a `ComparisonReport`: tables (pandas), figures (matplotlib) and a "
            "self-contained HTML page to share."
        ),
        _tagged(PARAMETERS.format(active="people_count_onnx.plugin") + 'OUT = "../reports/02_compare"      # where the HTML/CSV/JSON report goes\n'),
        new_markdown_cell(DATA_MARKDOWN),
        new_code_cell(DATA_SETUP),
        new_code_cell(START),
        new_markdown_cell(
            "## Run the comparison\n\n"
            "Per image it records the true and predicted count, the error, the latency the host measured, GAME "
            "at levels 0–3 (count error summed over a 2^L x 2^L grid: does the estimator put people in the right "
            "part of the image?) and localisation precision/recall/F1 at 10 and 20 px (one-to-one matching of "
            "predicted to annotated heads)."
        ),
        new_code_cell(
            'BROKER = "peopleCountEstimator"\n'
            'PLUGIN = next(name for name in wb.estimator_choices[BROKER] if name != "default")\n'
            'report = wb.compare(dataset, ["default", PLUGIN], broker=BROKER)\n'
            "if SYNTHETIC:\n"
            '    report.notes.append("SYNTHETIC data: drawn sample images, not photos; the scores only show that the code runs.")\n'
            "report"
        ),
        new_markdown_cell(
            "## The summary\n\n"
            "One row per estimator. `MAE`/`RMSE` are count errors; `GAME(L)` as above; `P/R/F1@t` are "
            "micro-averaged over the images (matches summed before the ratios); `mean/p50/p99 ms` are per-image "
            "latencies and `images/s` the throughput over the time spent in `wb.estimate`. `summary_table()` "
            "shows `report.summary` (a plain DataFrame) with one precision per column and the units."
        ),
        new_code_cell("report.summary_table()"),
        new_code_cell(
            'for name, row in report.summary.iterrows():\n'
            '    print(f"{name}: MAE {row.MAE:.2f} over {int(row.annotated)} images, p50 {row[\'p50 ms\']:.0f} ms")'
        ),
        new_markdown_cell(
            "## Per image\n\n"
            "`counts_table()` puts the estimators side by side, worst image first; `per_image` has every score "
            "(one row per image and estimator) for your own pandas analysis; `report.styled(table)` formats any "
            "such table by its column names."
        ),
        new_code_cell("report.counts_table()"),
        new_code_cell('report.styled(report.per_image.groupby("estimator")[["abs_error", "f1@10", "latency_ms"]].median())'),
        new_markdown_cell(
            "## Figures\n\n"
            "`report.figures()` returns every figure by name; they are ordinary matplotlib figures you can "
            "restyle or save. Predicted against true count first: points on the dashed line are exact."
        ),
        new_code_cell("figures = report.figures()\nlist(figures)"),
        new_code_cell('figures["count_scatter"]'),
        new_markdown_cell("Errors ranked per estimator: red bars over-count, blue under-count."),
        new_code_cell('figures[f"ranked_errors_{PLUGIN}"]'),
        new_markdown_cell(
            "The worst images side by side: each estimator's density map (or points, for an estimator that "
            "returns none) on the same colour scale per row."
        ),
        new_code_cell('figures["estimator_grid"]'),
        new_markdown_cell("## Share it\n\nOne HTML page with the tables and every figure embedded, plus CSV and JSON."),
        new_code_cell(
            "page = report.to_html(OUT, figures=figures)  # reuse the figures made above\n"
            "report.to_csv(OUT)\n"
            'report.to_json(Path(OUT) / "report.json")\n'
            'print(f"wrote {page} ({page.stat().st_size // 1024} KiB)")'
        ),
        new_markdown_cell(
            "## Explore interactively\n\n"
            "`Explorer` pages through the dataset: the dropdown chooses the estimator it shows, by name (what "
            "the host serves does not change), the point strategy re-extracts head points from the density map "
            "(\"peaks above threshold\" keeps every local maximum above the slider, in people per pixel like the "
            "colour bar), and the view shows the overlay and the points against the annotation. It needs the "
            "live host, so this notebook leaves it open: close it with `wb.close()` when you are done."
        ),
        new_code_cell("from workbench.research import Explorer\n\nExplorer(wb, dataset)"),
    ]


def density_and_points() -> list[nbformat.NotebookNode]:
    return [
        new_markdown_cell(
            "# 03 · Density maps, head points and localisation\n\n"
            "A density-map counter predicts a map whose sum is the count; the service also wants head points. "
            "How the points are read off the map decides the localisation scores, not the count. This notebook "
            "compares the two strategies of `workbench.estimators.points` on the default estimator's maps:\n\n"
            "- `topk`: the `count` highest cells (what the service's reference plugin does);\n"
            "- `peaks`: local maxima above a density `threshold`, the `count` strongest by default."
        ),
        _tagged(PARAMETERS.format(active="")),
        new_markdown_cell(DATA_MARKDOWN),
        new_code_cell(DATA_SETUP),
        new_code_cell(START + '\nBROKER = "peopleCountEstimator"\nprint("in use:", wb.estimators[BROKER])'),
        new_markdown_cell(
            "## The raw maps\n\n"
            "Run the default estimator once over the images and keep the results: everything below re-reads "
            "their `densityMap` without running the model again. `densityArea` is the rectangle of the image the "
            "map covers, so one map cell spans `densityArea.width / densityMap.shape[1]` pixels."
        ),
        new_code_cell(
            "results = wb.estimate(BROKER, [sample.image for sample in dataset])\n"
            "first = results[0]\n"
            "scale = first.densityArea.width / first.densityMap.shape[1]\n"
            'print(f"map {first.densityMap.shape} for a {dataset[0].size[0]}x{dataset[0].size[1]} image: "\n'
            '      f"{scale:g} px per cell; map sum {first.densityMap.sum():.2f} -> count {first.count}")'
        ),
        new_markdown_cell(
            "## Points from a map\n\n"
            "`get_point_strategy(name, **params).locate(densityMap, count, scale=, offset=)` returns `(N, 2)` "
            "points `(x, y)` in image pixels."
        ),
        new_code_cell(
            "import numpy as np\n"
            "from workbench.estimators.points import get_point_strategy\n\n\n"
            "def locate(result, strategy):\n"
            '    """Head points of one result by a strategy, in original-image pixels."""\n'
            "    area = result.densityArea\n"
            "    return strategy.locate(result.densityMap, result.count,\n"
            "                           scale=area.width / result.densityMap.shape[1], offset=(area.x, area.y))\n\n\n"
            'strategies = {"topk": get_point_strategy("topk"), "peaks": get_point_strategy("peaks")}\n'
            "for name, strategy in strategies.items():\n"
            "    points = locate(first, strategy)\n"
            '    print(f"{name}: {len(points)} points, first {np.round(points[:2], 1).tolist()}")'
        ),
        new_code_cell(
            "import matplotlib.pyplot as plt\n"
            "from workbench.research import plot_points\n\n"
            "sample = dataset[0]\n"
            'fig, axes = plt.subplots(1, 2, figsize=(14, 5), layout="constrained")\n'
            "for ax, (name, strategy) in zip(axes, strategies.items()):\n"
            "    plot_points(sample, locate(first, strategy), sample.points, ax=ax, threshold=10)\n"
            '    ax.set_title(f"{name}: " + ax.get_title())'
        ),
        new_markdown_cell(
            "## Localisation over the dataset\n\n"
            "Precision/recall/F1 of each strategy at 10 and 20 px, micro-averaged over the images "
            "(`localisation_summary`). The count is the same for both strategies; only where the points go "
            "changes."
        ),
        new_code_cell(
            "import pandas as pd\n"
            "from workbench.research import localisation, localisation_summary\n\n"
            "rows = []\n"
            "for name, strategy in strategies.items():\n"
            "    points = [locate(result, strategy) for result in results]\n"
            "    for threshold in (10, 20):\n"
            "        summary = localisation_summary(localisation(p, sample.points, threshold)\n"
            "                                       for p, sample in zip(points, dataset))\n"
            '        rows.append({"strategy": name, "threshold px": threshold, "precision": summary.precision,\n'
            '                     "recall": summary.recall, "F1": summary.f1, "TP": summary.tp, "FP": summary.fp,\n'
            '                     "FN": summary.fn})\n'
            "pd.DataFrame(rows).round(3)"
        ),
        new_markdown_cell(
            "## The peak threshold\n\n"
            "With `limit=None` the peaks strategy keeps every local maximum above the threshold, so the "
            "threshold alone decides how many points there are: too low and the map's background ripples "
            "become people, too high and faint heads vanish. (By default `limit=\"count\"` keeps the `count` "
            "strongest, which ties the points to the count.) Peak heights depend on the model, so the sweep "
            "goes in fractions of a typical peak: the median over the images of the map's maximum.\n\n"
            "Thresholds here are in **people per image pixel**, the unit of the density colour bars below and of "
            "the Explorer's threshold slider (notebook 02). A map cell covers `scale x scale` pixels, so a cell's "
            "value is divided by `scale**2`; `get_point_strategy` itself reads raw map cells, so `peaks_above` "
            "converts back."
        ),
        new_code_cell(
            "def cell_pixels(result):\n"
            '    """The image pixels one map cell covers (scale x scale of them)."""\n'
            "    return (result.densityArea.width / result.densityMap.shape[1]) ** 2\n\n\n"
            "def peaks_above(result, threshold):\n"
            '    """Every local maximum above `threshold` people per pixel (the strategy reads people per cell)."""\n'
            '    strategy = get_point_strategy("peaks", threshold=threshold * cell_pixels(result), limit=None)\n'
            "    return locate(result, strategy)\n\n\n"
            "typical_peak = float(np.median([result.densityMap.max() / cell_pixels(result) for result in results]))\n"
            'print(f"typical peak {typical_peak:.2e} people/px")\n'
            "sweep = []\n"
            "for fraction in (0.05, 0.1, 0.2, 0.3, 0.5):\n"
            "    threshold = fraction * typical_peak\n"
            "    points = [peaks_above(result, threshold) for result in results]\n"
            "    summary = localisation_summary(localisation(p, sample.points, 10) for p, sample in zip(points, dataset))\n"
            '    sweep.append({"fraction of typical peak": fraction, "threshold (people/px)": threshold,\n'
            '                  "points": sum(map(len, points)),\n'
            '                  "annotated heads": sum(sample.count for sample in dataset),\n'
            '                  "precision@10": summary.precision, "recall@10": summary.recall, "F1@10": summary.f1})\n'
            "sweep = pd.DataFrame(sweep)\n"
            'sweep.style.format({"threshold (people/px)": "{:.2e}", "precision@10": "{:.3f}", "recall@10": "{:.3f}",\n'
            '                    "F1@10": "{:.3f}"})'
        ),
        new_code_cell(
            'ax = sweep.plot(x="threshold (people/px)", y=["precision@10", "recall@10", "F1@10"], marker="o",\n'
            '                logx=True, figsize=(6, 4), title="peaks with limit=None: localisation at 10 px")\n'
            'ax.set_ylabel("score");'
        ),
        new_markdown_cell(
            "## Density overlay\n\n"
            "The map upsampled to its `densityArea` over the photo; near-zero density is transparent. The "
            "`Explorer` widget (notebook 02) shows the same view for any image, estimator, strategy and threshold."
        ),
        new_code_cell("from workbench.research import plot_density_overlay\n\nplot_density_overlay(sample, first, alpha=0.6);"),
        new_code_cell("wb.close()"),
    ]


def embedded_server() -> list[nbformat.NotebookNode]:
    return [
        new_markdown_cell(
            "# 04 · The embedded server: your plugins over HTTP\n\n"
            "`wb.serve()` starts an aiohttp server on the host's own event loop, so it keeps answering between "
            "and during notebook cells. It serves the background plugins' routes at the paths they register, "
            "the workbench's API (`/health`, `/plugins`, `/estimators`, `POST /estimators/{broker}/estimate`), "
            "and delivers a `request` monitoring point per request (and an `error` point per failure) to the "
            "event plugins, as the service does."
        ),
        _tagged(PARAMETERS.format(active="loop_watch.plugin,request_stats.plugin,people_count_onnx.plugin")),
        new_markdown_cell(DATA_MARKDOWN),
        new_code_cell(DATA_SETUP),
        new_code_cell(START),
        new_markdown_cell("## Start the server\n\n`port=0` takes a free port; `server.url` is where it listens."),
        new_code_cell('server = wb.serve(port=0)\nprint("serving on", server.url)'),
        new_markdown_cell(
            "## Call a plugin route\n\n"
            "`loop_watch` registers `/loop/ping` (a function handler) and `/loop/lag` (a class handler with "
            "`get` and `delete`). Any HTTP client works; here the standard library's `urllib`."
        ),
        new_code_cell(
            "import json\n"
            "import urllib.request\n\n\n"
            "sent = []  # every request made, to know how many monitoring points to expect\n\n\n"
            "def call(method, path, body=None, headers=None):\n"
            '    """Send one request to the server; returns (status, decoded body)."""\n'
            "    sent.append(f\"{method} {path}\")\n"
            "    request = urllib.request.Request(server.url + path, data=body, method=method, headers=headers or {})\n"
            "    with urllib.request.urlopen(request, timeout=30) as response:\n"
            "        text = response.read().decode()\n"
            '        is_json = response.headers.get_content_type() == "application/json"\n'
            "        return response.status, json.loads(text) if is_json else text\n\n\n"
            'print(call("GET", "/loop/ping"))\n'
            'print(call("GET", "/loop/lag"))'
        ),
        new_markdown_cell(
            "## Count people over HTTP\n\n"
            "`POST /estimators/peopleCountEstimator/estimate` takes the image bytes as the body (or a multipart "
            "upload); `?targets=T2` asks for the count only and `?detect_area=x,y,w,h` restricts it to an area. "
            "The estimator in use answers — the plugin here."
        ),
        new_code_cell(
            'print(call("GET", "/estimators")[1])\n'
            "for sample in dataset[:3]:\n"
            '    status, answer = call("POST", "/estimators/peopleCountEstimator/estimate",\n'
            '                          body=sample.image_path.read_bytes(), headers={"Content-Type": "image/jpeg"})\n'
            '    print(f"{sample.name}: HTTP {status}, count {answer[\'count\']} by {answer[\'estimator\']} "\n'
            '          f"in {answer[\'elapsed\'] * 1000:.0f} ms (annotated {sample.count})")'
        ),
        new_markdown_cell(
            "A bad request gets a JSON error with the request id, and produces an `error` monitoring point:"
        ),
        new_code_cell(
            "import urllib.error\n\n"
            "try:\n"
            '    call("POST", "/estimators/peopleCountEstimator/estimate", body=b"not an image")\n'
            "except urllib.error.HTTPError as error:\n"
            '    print(error.code, json.loads(error.read()))'
        ),
        new_markdown_cell(
            "## Watch the monitoring events\n\n"
            "Monitoring points are delivered in batches after the responses, off the request path, so they "
            "arrive a moment later. `request_stats` keeps per-route counts and latencies in memory; its "
            "`summary()` gives the latencies in milliseconds (`p50 ms`, `p99 ms`). One row per route "
            "(`orient=\"index\"`) keeps the counts whole numbers."
        ),
        new_code_cell(
            "import time\n\n"
            "import pandas as pd\n\n"
            'stats = wb.plugins["RequestStatsPlugin"].instance\n'
            "deadline = time.monotonic() + 10\n"
            "while sum(stats.requests.values()) < len(sent) and time.monotonic() < deadline:\n"
            "    time.sleep(0.1)\n"
            'table = pd.DataFrame.from_dict(stats.summary(), orient="index").rename_axis("route")\n'
            'table.style.format({"p50 ms": "{:.1f}", "p99 ms": "{:.1f}"}, na_rep="–")'
        ),
        new_markdown_cell("## Stop\n\n`server.stop()` ends the server; `wb.close()` would stop it too."),
        new_code_cell("server.stop()\nwb.close()"),
    ]


SEQUENCE_PARAMETERS = """\
# Parameters (a runner such as papermill may override them).
DATA = None                     # a video file or a folder of frames (Mall's, numbered frames); None: a generated clip
EVERY = None                    # keep every EVERY-th frame (None: every frame)
EVERY_SECONDS = None            # or the first frame of each EVERY_SECONDS seconds (a folder needs FPS for it)
FPS = None                      # a frame folder's rate, which gives its frames times (a video's is in the file)
LIMIT = 32                      # at most this many sampled frames, so the notebook runs in well under a minute
SMOOTHING = 5                   # the moving average (in sampled frames) for the smoothed stability figures
PLUGINS_DIR = "../plugins"      # the plugins folder, as the service has it
ACTIVE_PLUGINS = "people_count_onnx.plugin"
DEVICE = "cpu"                  # "cpu" or "gpu"
OUT = "../reports/05_counting_over_time"  # where the HTML/CSV/JSON report goes
"""

MAKE_CLIP = '''\
%matplotlib inline
import json
import tempfile
from pathlib import Path

import av
import numpy as np

from workbench.research import load_sequence, make_synthetic_dataset

WIDTH, HEIGHT, RATE = 320, 240, 8  # pixels, frames per second
SCENES, SCENE_FRAMES, PAN_PX = 4, 8, 3  # each scene is held for SCENE_FRAMES frames, panning PAN_PX px a frame


def make_clip(folder):
    """A SYNTHETIC clip: generated crowd scenes in turn, each panned sideways for a second (people leave and enter
    at the edges), written with PyAV as clip.mp4 with its head points per frame in clip.points.json."""
    pan = PAN_PX * (SCENE_FRAMES - 1)
    scenes = make_synthetic_dataset(folder / "scenes", n=SCENES, seed=5, size=(WIDTH + pan, HEIGHT))
    path = folder / "clip.mp4"
    container = av.open(str(path), "w")
    stream = container.add_stream("libx264", rate=RATE)
    stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    heads = {}
    for scene in scenes:
        pixels, points = scene.image.asNPArray(), scene.points
        for step in range(SCENE_FRAMES):
            left = step * PAN_PX
            frame = np.ascontiguousarray(pixels[:, left:left + WIDTH, :3])
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
            inside = (points[:, 0] >= left) & (points[:, 0] < left + WIDTH)
            heads[str(len(heads))] = (points[inside] - [left, 0]).tolist()
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    (folder / "clip.points.json").write_text(json.dumps({"video": path.name, "frames": heads}))
    return path


SYNTHETIC = DATA is None
if SYNTHETIC:
    DATA = make_clip(Path(tempfile.mkdtemp(prefix="workbench-05-")))
sequence = load_sequence(DATA, every=EVERY, every_seconds=EVERY_SECONDS, fps=FPS)[:LIMIT]
first, last = sequence[0], sequence[-1]
print(f"{'synthetic' if SYNTHETIC else 'real'} sequence {sequence.name}: {len(sequence)} frames, "
      f"frames {first.frame} to {last.frame}" + (f", {last.time - first.time:.1f} s" if last.time is not None else ""))
if SYNTHETIC:
    print("SYNTHETIC clip: drawn scenes, not camera footage; the scores only show that the code runs.")
sequence'''


def counting_over_time() -> list[nbformat.NotebookNode]:
    return [
        new_markdown_cell(
            "# 05 · Counting over time: a video or a frame sequence\n\n"
            "On a dashboard a count is read over time: a counter whose MAE is fine but that jumps by 10 between "
            "two near-identical frames is unusable. This notebook opens a sequence (a video file, or a folder of "
            "frames), compares the default estimator with your plugin on it, and reads the result along the "
            "frames: the counts and errors over time, how much each count moves from one frame to the next "
            "against how much the crowd does (before and after smoothing), and where the plugin departs most "
            "from the default. It ends with the `Explorer` and its timeline."
        ),
        _tagged(SEQUENCE_PARAMETERS),
        new_markdown_cell(
            "## The sequence\n\n"
            "`load_sequence(path, every=, every_seconds=, fps=)` opens a video file (PyAV: frames are decoded "
            "lazily, in order, and only the sampled ones are kept) or a folder of frames in name order (Mall's "
            "layout with `mall_gt.mat`, or any dataset folder). Its samples carry `frame` (the number in the "
            "source) and `time` (seconds). A video's head points come from `clip.points.json` beside it: "
            "`{\"video\": \"clip.mp4\", \"frames\": {\"0\": [[x, y], ...], ...}}`.\n\n"
            "Left at `None`, `DATA` is a short **synthetic** clip made here from `make_synthetic_dataset` scenes "
            "(drawings, not footage): each scene is panned for a second, so people leave and enter at the edges, "
            "then the next scene cuts in."
        ),
        new_code_cell(MAKE_CLIP),
        new_code_cell(START),
        new_markdown_cell(
            "## Compare on the sequence\n\n"
            "`wb.compare` runs each estimator over the frames as over images: the frames are decoded ahead of the "
            "estimator, and every per-image score is there. On a sequence the report also has a `timeline`: per "
            "sampled frame its number, time, the annotated count and each estimator's count."
        ),
        new_code_cell(
            'BROKER = "peopleCountEstimator"\n'
            'PLUGIN = next(name for name in wb.estimator_choices[BROKER] if name != "default")\n'
            'report = wb.compare(sequence, ["default", PLUGIN], broker=BROKER)\n'
            "if SYNTHETIC:\n"
            '    report.notes.append("SYNTHETIC clip: drawn scenes, not footage; the scores only show that the code runs.")\n'
            "timeline = report.timeline\n"
            "print(timeline)\n"
            "report.summary_table()"
        ),
        new_markdown_cell(
            "## Counts over time\n\n"
            "`timeline.table()` has one row per sampled frame: its number and time, the truth, each estimator's "
            "count and its error (count minus truth)."
        ),
        new_code_cell("timeline.table().head(8).round(2)"),
        new_markdown_cell(
            "`plot_counts_over_time` and `plot_error_over_time` draw them against time (or frame numbers where "
            "frames have no time); the error plot shades the stretch where the plugin departs most from the "
            "default. Both take `ax=` and `window=` (a moving average)."
        ),
        new_code_cell(
            "import matplotlib.pyplot as plt\n"
            "from workbench.research import plot_counts_over_time, plot_error_over_time\n\n"
            'fig, (counts, errors) = plt.subplots(2, 1, figsize=(12, 7), sharex=True, layout="constrained")\n'
            "plot_counts_over_time(timeline, ax=counts)\n"
            "plot_error_over_time(timeline, ax=errors, divergence_window=SMOOTHING);"
        ),
        new_markdown_cell(
            "## Stability\n\n"
            "`timeline.stability()` measures how much each count moves between consecutive sampled frames: "
            "`mean abs change` (people per step), against the truth's (`vs truth`: 1 moves as much as the crowd, "
            "3 three times as much) and `change error`, how far each step is from the true step. A steady scene "
            "filmed by a jittery counter shows as `vs truth` well above 1."
        ),
        new_code_cell("timeline.stability().round(2)"),
        new_markdown_cell(
            "The same after a centred moving average over `SMOOTHING` sampled frames (what a dashboard might "
            "show): smoothing takes the jitter out, and the truth is smoothed alike so the ratio stays fair."
        ),
        new_code_cell("timeline.stability(SMOOTHING).round(2)"),
        new_markdown_cell(
            "`plot_frame_changes` shows the whole distribution of the steps, not only their mean: the share of "
            "steps at or below each size. A curve right of the truth's is a counter that moves more than the "
            "crowd does."
        ),
        new_code_cell(
            "from workbench.research import plot_frame_changes\n\n"
            'fig, (raw, smoothed) = plt.subplots(1, 2, figsize=(12, 4), layout="constrained")\n'
            "plot_frame_changes(timeline, ax=raw)\n"
            "plot_frame_changes(timeline, ax=smoothed, window=SMOOTHING);"
        ),
        new_markdown_cell(
            "## Where the plugin departs from the default\n\n"
            "`timeline.divergence(name)` finds the stretch of sampled frames where an estimator's count differs "
            "most from the default's: the place in the recording to look at first."
        ),
        new_code_cell("print(timeline.divergence(PLUGIN, window=SMOOTHING).describe())"),
        new_markdown_cell(
            "## Share it\n\n"
            "On a sequence the HTML page adds the counts and errors over time and a stability section; "
            "`timeline.csv` and `stability.csv` sit beside `per_image.csv`."
        ),
        new_code_cell(
            "page = report.to_html(OUT)\n"
            "report.to_csv(OUT)\n"
            'print(f"wrote {page} ({page.stat().st_size // 1024} KiB) and", ", ".join(sorted(p.name for p in Path(OUT).glob("*.csv"))))'
        ),
        new_markdown_cell(
            "## Scrub it in the Explorer\n\n"
            "On a sequence the `Explorer` draws a timeline under the panels: the truth and the comparison's "
            "counts over the frames (`report=report`; without it, the frames estimated so far), with the current "
            "frame marked. Drag the frame slider under it to scrub; the panels show that frame's density map and "
            "head points. It needs the live host, so this notebook leaves it open: close it with `wb.close()` "
            "when you are done."
        ),
        new_code_cell("from workbench.research import Explorer\n\nExplorer(wb, sequence, report=report)"),
    ]


NOTEBOOKS = {
    "01_quickstart": quickstart,
    "02_compare_estimators": compare_estimators,
    "03_density_maps_and_points": density_and_points,
    "04_embedded_server": embedded_server,
    "05_counting_over_time": counting_over_time,
}


def build(name: str) -> nbformat.NotebookNode:
    """The notebook ``name`` with deterministic cell ids, so that rebuilding changes no unchanged cell."""
    notebook = new_notebook(cells=NOTEBOOKS[name]())
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"{name[:2]}-{index:02d}"
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    notebook.metadata["language_info"] = {"name": "python"}
    nbformat.validate(notebook)
    return notebook


def main() -> None:
    for name in NOTEBOOKS:
        path = HERE / f"{name}.ipynb"
        nbformat.write(build(name), path)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
