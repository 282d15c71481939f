"""The pages in a real headless Chromium, opened from file://: no console errors or failed loads, the
step browser shows the chosen step's image and answer (keys too) and loads only what it shows,
hostile answers stay text, and the leaderboard lists every run.

Skipped only when no Chromium is installed (CI's .ci/run installs Debian's `chromium`).
"""

from __future__ import annotations

import json

import pytest

from browser import Browser, chromium_binary
from test_eval_html import HOSTILE, Recorder, page_data, run_data
from vlmgym.eval import EvalConfig, FunctionPolicy, evaluate
from vlmgym.eval.compare import build_leaderboard, write_leaderboard

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(chromium_binary() is None,
                                 reason="no chromium binary (apt-get install chromium; .ci/run installs it)")]

IDS = ["VLMGym/Shisensho-v0", "VLMGym/2048-v0"]


@pytest.fixture(scope="module")
def browser():
    with Browser() as b:
        yield b


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("pages") / "ev"
    base = Recorder()

    def answer(q):  # run 1 step 2 of 2048 answers hostile markup; everything else the usual format
        if q.env_id == "VLMGym/2048-v0" and q.run == 1 and q.step == 2:
            return HOSTILE + "<answer>1</answer>"
        return None

    def policy(queries):
        texts = base(queries)
        return [answer(q) or t for q, t in zip(queries, texts)]

    evaluate(EvalConfig(IDS, runs=2, steps=6, out=str(out), video=False, progress=False),
             policy=FunctionPolicy(policy, "recorder"))
    return out


def shown(b):
    return b.js("""({img: document.getElementById('step-image').getAttribute('src'),
        w: document.getElementById('step-image').naturalWidth,
        answer: document.getElementById('answer').textContent,
        hash: location.hash,
        tags: [...document.querySelectorAll('#answer span.tag')].map(s => s.textContent),
        bad: [...document.querySelectorAll('#seen td.bad')].map(td => td.title),
        boxes: document.querySelectorAll('#boxes .box').length})""")


def loaded(b):
    b.wait_for("(() => { const i = document.getElementById('step-image');"
               " return i.complete && i.naturalWidth > 0 && document.getElementById('answer').textContent; })()")


def test_report_shows_the_chosen_step_and_follows_the_keys(browser, folder):
    data = {g["env_id"]: g for g in page_data(folder)["games"]}
    run = data["VLMGym/Shisensho-v0"]["runs"][1]
    steps = run_data(folder, run["key"])["steps"]
    browser.open((folder / "report.html").as_uri() + "#game=VLMGym/Shisensho-v0&run=1&step=4")
    loaded(browser)
    s = shown(browser)
    assert s["img"] == steps[3]["image"] and s["w"] == 336
    assert s["answer"] == steps[3]["answer"]
    assert s["tags"] == ["<perception>", "</perception>", "<think>", "</think>", "<answer>", "</answer>"]
    assert s["bad"] == ["(0, 0)"] and s["boxes"] == 2
    browser.press("ArrowRight")
    browser.wait_for("location.hash.endsWith('step=5')")
    loaded(browser)
    s = shown(browser)
    assert s["answer"] == steps[4]["answer"] and s["img"] == steps[4]["image"]
    browser.press("ArrowUp")  # run 0, same step
    browser.wait_for("location.hash.includes('run=0')")
    run0 = run_data(folder, data["VLMGym/Shisensho-v0"]["runs"][0]["key"])["steps"]
    browser.wait_for(f"document.getElementById('answer').textContent === {json.dumps(run0[4]['answer'])}")
    assert browser.js("document.getElementById('sel-step').value") == "5"
    # only the pictures of the steps shown were requested, and every load succeeded
    wanted = {steps[3]["image"], steps[4]["image"], run0[4]["image"]}
    images = {u.split("/ev/", 1)[1] for u in browser.requested() if "/report/img/" in u}
    assert images <= wanted and images
    assert browser.problems() == []


def test_hostile_answers_are_shown_as_text(browser, folder):
    browser.open((folder / "report.html").as_uri() + "#game=VLMGym/2048-v0&run=1&step=2")
    loaded(browser)
    s = shown(browser)
    assert s["answer"] == HOSTILE + "<answer>1</answer>"
    assert browser.js("window.pwned === undefined && !document.querySelector('img[src=\"x\"]')")
    assert browser.js("document.querySelectorAll('script').length") == 2 + 1  # page's two + the run file
    assert browser.problems() == []


def test_leaderboard_lists_every_run(browser, folder, tmp_path):
    other = evaluate(EvalConfig(IDS, policy="oracle", runs=2, steps=3, out=str(tmp_path / "orc"),
                                video=False, curves=False, html=False, progress=False)).out
    third = evaluate(EvalConfig(["VLMGym/Swap-v0"], policy="random-paper", runs=2, steps=3,
                                out=str(tmp_path / "swap"), video=False, curves=False, html=False,
                                progress=False)).out
    board = build_leaderboard([folder, other, third])
    write_leaderboard(board, tmp_path / "lb")
    browser.open((tmp_path / "lb" / "leaderboard.html").as_uri())
    rows = browser.js("[...document.querySelectorAll('#leaderboard tr.run td:first-child')]"
                      ".map(td => td.textContent)")
    assert [r.split(" ·")[0] for r in rows] == ["recorder", "oracle", "random-paper"]
    assert "report" in rows[0]  # the first folder has a report.html to link to
    header = browser.js("[...document.querySelectorAll('#leaderboard th')].map(th => th.textContent)")
    assert header == ["policy", "VLMGym/Shisensho-v0successes", "VLMGym/2048-v0score_gain", "VLMGym/Swap-v0successes"]
    browser.wait_for("document.querySelector('img.figure').complete && document.querySelector('img.figure').naturalWidth > 0")
    assert browser.problems() == []
