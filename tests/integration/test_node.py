"""`meadow node` end to end: the official openai client, bad requests, session KV reuse, serving control."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import psutil
import pytest
import torch

from core.models.prompts import encode_prompt
from core.models.source import resolve_model
from core.models.weights import load_tokenizer
from core.node.server_stats import SERVER_STATS_SECONDS
from tests.helpers.node import NodeHandle
from tests.integration.conftest import SMOLLM

pytestmark = pytest.mark.slow

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture(scope="module")
def node():
    handle = NodeHandle.start(["--new-swarm", "--serve", "--set", "server.throughput=100",
                               "--set", "node.route_wait=4", "--set", "pause.poll_seconds=0.5"])
    try:
        handle.wait_for_state("serving", 240)
        yield handle
    finally:
        handle.stop()


@pytest.fixture(scope="module")
def client(node):
    return openai.OpenAI(base_url=f"{node.api}/v1", api_key=node.token, max_retries=0, timeout=120)


def test_models_lists_the_served_model(client):
    assert SMOLLM in [model.id for model in client.models.list().data]


def test_capital_of_france_streamed_equals_whole(client):
    whole = client.chat.completions.create(model=SMOLLM, messages=QUESTION, temperature=0, max_tokens=24)
    text = whole.choices[0].message.content
    assert "Paris" in text
    assert whole.usage.prompt_tokens > 0 and whole.usage.completion_tokens > 0
    stream = client.chat.completions.create(model=SMOLLM, messages=QUESTION, temperature=0, max_tokens=24,
                                            stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    deltas = [chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices]
    assert len([delta for delta in deltas if delta]) > 1  # really streamed, token by token
    assert "".join(deltas) == text
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens


def test_completions_stop_sequence_and_seed(client):
    prompt = "The days of the week are Monday, Tuesday,"
    whole = client.completions.create(model=SMOLLM, prompt=prompt, temperature=0, max_tokens=16)
    assert whole.choices[0].finish_reason == "length" and whole.choices[0].text
    cut = client.completions.create(model=SMOLLM, prompt=prompt, temperature=0, max_tokens=16, stop=[","])
    assert "," not in cut.choices[0].text and whole.choices[0].text.startswith(cut.choices[0].text)
    assert cut.choices[0].finish_reason == "stop"
    sampled = [client.completions.create(model=SMOLLM, prompt=prompt, temperature=1.2, top_p=0.9, seed=7,
                                         max_tokens=12).choices[0].text for _ in range(2)]
    assert sampled[0] == sampled[1]


def _timed_stream(client, **request) -> tuple[str, list[float]]:
    """The streamed text of a completion and the time each piece of it arrived."""
    pieces, times = [], []
    for chunk in client.completions.create(model=SMOLLM, stream=True, **request):
        if chunk.choices and chunk.choices[0].text:
            pieces.append(chunk.choices[0].text)
            times.append(time.monotonic())
    return "".join(pieces), times


def test_requests_are_answered_side_by_side_and_a_seed_holds_beside_other_sampling(client):
    prompts = ["The days of the week are Monday, Tuesday,", "Count with me: one, two, three,"]
    greedy = {"temperature": 0, "max_tokens": 32}
    alone = [_timed_stream(client, prompt=prompt, **greedy)[0] for prompt in prompts]
    with ThreadPoolExecutor(2) as pool:
        together = list(pool.map(lambda prompt: _timed_stream(client, prompt=prompt, **greedy), prompts))
    assert [text for text, _ in together] == alone
    (_, first), (_, second) = together
    assert len(first) > 1 and len(second) > 1
    # Each answer's first piece came before the other's last: they were generated at the same time.
    assert first[0] < second[-1] and second[0] < first[-1], "the two answers were generated one after the other"

    seeded = {"prompt": prompts[0], "temperature": 1.0, "seed": 11, "max_tokens": 24}
    reference = _timed_stream(client, **seeded)[0]
    with ThreadPoolExecutor(3) as pool:
        unseeded = [pool.submit(_timed_stream, client, prompt=prompts[1], temperature=1.0, max_tokens=24)
                    for _ in range(2)]
        beside = pool.submit(_timed_stream, client, **seeded)
        assert beside.result(120)[0] == reference
        assert all(future.result(120)[0] for future in unseeded)

BAD_REQUESTS = [
    (b"{not json", 400, "invalid_json"),
    (json.dumps({"model": SMOLLM, "messages": "hello"}).encode(), 400, "invalid_value"),
    (json.dumps({"model": SMOLLM, "messages": QUESTION, "max_tokens": "5"}).encode(), 400, "invalid_value"),
    (json.dumps({"model": SMOLLM, "messages": QUESTION, "max_tokens": -3}).encode(), 400, "invalid_value"),
    (json.dumps({"model": SMOLLM, "messages": QUESTION, "max_tokens": 10 ** 12}).encode(), 400,
     "context_length_exceeded"),
    (json.dumps({"model": SMOLLM, "messages": QUESTION, "temperature": 9}).encode(), 400, "invalid_value"),
    (json.dumps({"model": SMOLLM, "messages": QUESTION, "n": 3}).encode(), 400, "invalid_value"),
    (json.dumps({"model": SMOLLM, "messages": QUESTION, "stop": ["a", "b", "c", "d", "e"]}).encode(), 400,
     "invalid_value"),
    (json.dumps({"model": SMOLLM, "messages": []}).encode(), 400, "invalid_value"),
    (json.dumps({"model": SMOLLM, "messages": [{"role": "wizard", "content": "hi"}]}).encode(), 400, "invalid_value"),
    (json.dumps({"model": "no-such-model", "messages": QUESTION}).encode(), 404, "model_not_found"),
    (json.dumps([1, 2, 3]).encode(), 400, "invalid_request"),
]


@pytest.mark.parametrize("body,status,code", BAD_REQUESTS)
def test_malformed_requests_get_openai_errors(node, body, status, code):
    response = node.http.post("/v1/chat/completions", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"] and error["type"]


def test_missing_or_wrong_token_is_refused_and_node_keeps_serving(node, client):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": node.token}):
        response = httpx.post(f"{node.api}/v1/chat/completions", headers=headers,
                              json={"model": SMOLLM, "messages": QUESTION})
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_api_key"
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{node.api}/v1", api_key="nope", max_retries=0).models.list()
    assert node.http.get("/v1/nothing-here").status_code == 404
    answer = client.chat.completions.create(model=SMOLLM, messages=QUESTION, temperature=0, max_tokens=8)
    assert answer.choices[0].message.content


def _served_tokens(node: NodeHandle) -> int:
    time.sleep(SERVER_STATS_SECONDS + 0.1)  # the node reads its server's counters at most this often
    return node.status()["serving"]["tokens_served"]


def _local_greedy(model, cache, new_ids: torch.Tensor, steps: int) -> list[int]:
    """Greedy decoding with transformers' own model and cache: one step for `new_ids`, then one per token."""
    tokens: list[int] = []
    inputs = new_ids
    for _ in range(steps):
        with torch.no_grad():
            logits = model(input_ids=inputs, cache=cache, use_cache=True).logits
        token = int(logits[0, -1].argmax())
        tokens.append(token)
        inputs = torch.tensor([[token]])
    return tokens


def test_second_turn_sends_only_new_tokens_and_equals_local_cache(node, client, smollm_local):
    from transformers import DynamicCache

    tokenizer = load_tokenizer(resolve_model(SMOLLM))
    turn1 = [{"role": "user", "content": "Name a famous painter."}]
    first = client.chat.completions.create(model=SMOLLM, messages=turn1, temperature=0, max_tokens=20)
    reply1 = first.choices[0].message.content
    turn2 = [*turn1, {"role": "assistant", "content": reply1}, {"role": "user", "content": "Name one of their works."}]
    before = _served_tokens(node)
    second = client.chat.completions.create(model=SMOLLM, messages=turn2, temperature=0, max_tokens=20)
    sent = _served_tokens(node) - before

    prompt1, prompt2 = encode_prompt(tokenizer, turn1), encode_prompt(tokenizer, turn2)
    held = prompt1.shape[1] + first.usage.completion_tokens - 1  # the last generated token was never sent
    assert second.usage.prompt_tokens == prompt2.shape[1]
    assert sent == (prompt2.shape[1] - held) + (second.usage.completion_tokens - 1)

    cache = DynamicCache(config=smollm_local.config)
    local1 = _local_greedy(smollm_local, cache, prompt1, first.usage.completion_tokens)
    assert tokenizer.decode(local1, skip_special_tokens=True) == reply1
    assert torch.equal(prompt2[:, :held], torch.cat([prompt1, torch.tensor([local1[:-1]])], dim=1))
    assert cache.get_seq_length() == held  # like the swarm, the last generated token was never fed
    local2 = _local_greedy(smollm_local, cache, prompt2[:, held:], second.usage.completion_tokens)
    assert tokenizer.decode(local2, skip_special_tokens=True) == second.choices[0].message.content
    fresh = smollm_local.generate(prompt2, max_new_tokens=second.usage.completion_tokens, do_sample=False)
    print(f"turn 2 equals a fresh full-history generation: "
          f"{fresh[0, prompt2.shape[1]:].tolist() == local2}")


def test_pause_frees_the_server_and_resume_restarts_it(node):
    events = []
    with httpx.stream("GET", f"{node.api}/api/events", headers={"Authorization": f"Bearer {node.token}"},
                      timeout=60) as stream:
        old_pid = node.status()["serving"]["pid"]
        assert psutil.pid_exists(old_pid)
        paused = node.http.post("/api/serving/pause", json={"minutes": 30}).json()["serving"]
        assert paused["state"] == "paused" and "paused by you" in paused["reason"] and paused["pid"] is None
        assert paused["resume_in_s"] > 29 * 60
        assert not psutil.pid_exists(old_pid) or psutil.Process(old_pid).status() == psutil.STATUS_ZOMBIE
        node.http.post("/api/serving/resume")
        for line in stream.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
                if events[-1].get("state") == "serving":
                    break
    states = [event["state"] for event in events if event["event"] == "serving"]
    changes = [state for index, state in enumerate(states) if index == 0 or states[index - 1] != state]
    assert changes == ["paused", "starting", "serving"]
    assert node.status()["serving"]["pid"] != old_pid


def test_crashed_server_is_restarted(node):
    pid = node.wait_for_state("serving", 180)["pid"]
    os.killpg(pid, 9)
    node.wait_until(lambda status: status["serving"]["pid"] not in (None, pid), 60)
    assert node.wait_for_state("serving", 180)["pid"] != pid


def test_uncovered_model_gets_503_naming_missing_blocks(node, client):
    node.http.post("/api/serving/stop")
    try:
        started = time.monotonic()
        with pytest.raises(openai.APIStatusError) as raised:
            client.chat.completions.create(model=SMOLLM, messages=QUESTION, max_tokens=4)
        assert raised.value.status_code == 503
        assert "0-29" in raised.value.message or "0:30" in raised.value.message
        assert time.monotonic() - started < 60
    finally:
        node.http.post("/api/serving/start")
        node.wait_for_state("serving", 180)


def test_settings_patch_is_validated_and_schema_lists_every_setting(node, meadow_home):
    schema = node.http.get("/api/settings/schema").json()["settings"]
    keys = {item["key"] for item in schema}
    assert {"server.vram_reserve_gb", "node.max_sessions"} <= keys
    bad = node.http.patch("/api/settings", json={"node.default_max_tokens": "lots", "log.level": "DEBUG"})
    assert bad.status_code == 400 and "node.default_max_tokens" in bad.json()["error"]["message"]
    unknown = node.http.patch("/api/settings", json={"no.such": 1})
    assert unknown.status_code == 400
    good = node.http.patch("/api/settings", json={"node.default_max_tokens": 33, "pause.poll_seconds": 1.0})
    assert good.status_code == 200 and good.json()["values"]["node.default_max_tokens"] == 33
    # This node's command line sets pause.poll_seconds: the stored value waits for a start without it.
    assert good.json()["applied"]["overridden"] == ["pause.poll_seconds"]
    assert good.json()["values"]["pause.poll_seconds"] == 0.5
    stored = json.loads((meadow_home / "settings.json").read_text())
    assert stored["node.default_max_tokens"] == 33 and "log.level" not in stored
    node.http.patch("/api/settings", json={"node.default_max_tokens": 512, "pause.poll_seconds": 2.0})


def test_exclusive_app_pauses_within_5_s_and_serving_resumes_after_grace(node, tmp_path):
    server_pid = node.wait_for_state("serving", 180)["pid"]
    game = tmp_path / "fake-game-launcher-xyz"  # longer than the 15-character process name
    shutil.copy("/bin/sleep", game)
    node.http.patch("/api/settings", json={"pause.exclusive_apps": ["fake-game-launcher-xyz"],
                                           "pause.resume_after_s": 3})
    process = subprocess.Popen([str(game), "120"])
    try:
        started = time.monotonic()
        paused = node.wait_until(lambda status: status["serving"]["state"] == "paused"
                                 and status["serving"]["pid"] is None, 10)["serving"]
        assert time.monotonic() - started < 5
        assert "fake-game-launcher-xyz" in paused["reason"]
        assert not psutil.pid_exists(server_pid) or psutil.Process(server_pid).status() == psutil.STATUS_ZOMBIE
    finally:
        process.kill()
        process.wait()
    resumed = node.wait_for_state("serving", 180)
    assert resumed["pid"] != server_pid
    node.http.patch("/api/settings", json={"pause.exclusive_apps": [], "pause.resume_after_s": 120})


def test_server_child_dies_with_a_killed_node(tiny_llama):
    handle = NodeHandle.start(["--new-swarm", "--serve", "--model", str(tiny_llama), "--set", "server.throughput=100"])
    try:
        server_pid = handle.wait_for_state("serving", 120)["pid"]
        os.killpg(handle.process.pid, signal.SIGKILL)
        deadline = time.monotonic() + 15
        while psutil.pid_exists(server_pid) and psutil.Process(server_pid).status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline, "the server child outlived its node"
            time.sleep(0.2)
    finally:
        handle.stop()
