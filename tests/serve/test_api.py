"""The HTTP API on a light pipeline: round trip, description, batching, bad input, limits, token."""

from __future__ import annotations

import asyncio
import base64
import json
import time

import httpx
import pytest

from workflow.core.errors import WorkflowError
from workflow.serve.config import ServeConfig
from workflow.serve.server import prepare

from .helpers import colour_pipeline, colour_registry, png_bomb, png_bytes, running, solid

RED, GREEN, MAGENTA = (250, 20, 10), (10, 240, 20), (255, 0, 255)


def make_app(tmp_path, config: ServeConfig | None = None, **params):
    return prepare(colour_pipeline(tmp_path, **params), config or ServeConfig(), registry=colour_registry())


def upload(
    client: httpx.Client, content: bytes, name: str = "image", query: str = "", **kw
) -> httpx.Response:
    return client.post(f"/run{query}", files={name: ("x.png", content, "image/png")}, **kw)


def test_round_trip_json_and_multipart(tmp_path):
    with running(make_app(tmp_path)) as url, httpx.Client(base_url=url, timeout=30) as client:
        r = upload(client, png_bytes(solid(RED)))
        assert r.status_code == 200, r.text
        body = r.json()
        classes = body["outputs"]["classification"]["classes"]
        assert [c["label"] for c in classes] == ["red", "green", "blue"]
        assert isinstance(classes[0]["score"], float) and 0.85 < classes[0]["score"] <= 1.0
        assert "images" not in body and body["timings"]["batch_size"] >= 1 and body["timings"]["total_s"] > 0
        encoded = base64.b64encode(png_bytes(solid(GREEN))).decode()
        r = client.post(
            "/run?image=jpeg",
            json={"inputs": {"image": {"base64": encoded}}, "params": {"colour": {"top_k": 1}}},
        )
        assert r.status_code == 200, r.text
        assert [c["label"] for c in r.json()["outputs"]["classification"]["classes"]] == ["green"]
        image = r.json()["images"]["image"]
        assert image["media_type"] == "image/jpeg" and (image["width"], image["height"]) == (32, 32)
        assert base64.b64decode(image["base64"])[:3] == b"\xff\xd8\xff"
        r = upload(client, png_bytes(solid(RED)), query="?image=png&raw=true")
        assert (
            r.status_code == 200 and r.headers["content-type"] == "image/png" and r.content[:4] == b"\x89PNG"
        )


def test_describe_health_ready_docs(tmp_path):
    with running(make_app(tmp_path)) as url, httpx.Client(base_url=url, timeout=30) as client:
        info = client.get("/pipeline").json()
        assert info["name"] == "colours" and info["inputs"] == {"image": "image"}
        assert info["tasks"][0]["id"] == "colour" and info["tasks"][0]["params"]["top_k"] == 3
        assert info["tasks"][0]["overridable"] == ["top_k"]
        assert info["outputs"]["classification"]["type"] == "classification"
        assert client.get("/health").json() == {"status": "ok"}
        assert client.get("/ready").json() == {"ready": True}
        spec = client.get("/openapi.json").json()
        assert {"/run", "/pipeline", "/health", "/ready", "/metrics"} <= set(spec["paths"])
        assert "multipart/form-data" in spec["paths"]["/run"]["post"]["requestBody"]["content"]
        docs = client.get("/docs")
        assert docs.status_code == 200 and "swagger-ui-bundle.js" in docs.text
        assert (
            "cdn" not in docs.text.lower() and "https://" not in docs.text
        )  # works offline: assets come from here
        script = client.get("/docs/assets/swagger-ui-bundle.js")
        assert script.status_code == 200 and len(script.content) > 100_000
        page = client.get("/")
        assert (
            page.status_code == 200
            and "<script>" in page.text
            and "http" not in page.text.split("<script>")[1]
        )


def test_concurrent_requests_are_batched(tmp_path):
    config = ServeConfig(max_batch=8, max_wait_ms=50)
    with running(make_app(tmp_path, config, delay_s=0.2)) as url:

        async def burst():
            async with httpx.AsyncClient(base_url=url, timeout=30) as client:
                data = png_bytes(solid(RED))
                return await asyncio.gather(
                    *[client.post("/run", files={"image": ("x.png", data)}) for _ in range(12)]
                )

        responses = asyncio.run(burst())
        assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
        assert max(r.json()["timings"]["batch_size"] for r in responses) > 1
        metrics = httpx.get(f"{url}/metrics").text
    buckets = _histogram(metrics, "workflow_serve_batch_size")
    assert buckets["+Inf"] > buckets["1"], metrics  # some batch had more than one item
    assert buckets["+Inf"] < 13  # 12 requests + the warm-up were not run one by one
    assert 'workflow_serve_requests_total{path="/run",status="200"} 12' in metrics
    assert "workflow_serve_request_latency_seconds_count 12" in metrics


def _histogram(text: str, name: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line.startswith(f'{name}_bucket{{le="'):
            le = line.split('le="')[1].split('"')[0]
            out[le] = float(line.rsplit(" ", 1)[1])
    return out


def test_one_bad_image_fails_alone(tmp_path):
    config = ServeConfig(max_batch=8, max_wait_ms=100)
    with running(make_app(tmp_path, config, delay_s=0.1)) as url:

        async def mixed():
            async with httpx.AsyncClient(base_url=url, timeout=30) as client:
                good, bad = png_bytes(solid(RED)), png_bytes(solid(MAGENTA))
                sends = [
                    client.post("/run", files={"image": ("x.png", bad if i == 2 else good)}) for i in range(5)
                ]
                return await asyncio.gather(*sends)

        responses = asyncio.run(mixed())
    assert [r.status_code for r in responses] == [200, 200, 422, 200, 200]
    assert "poison image" in responses[2].json()["detail"]
    assert max(r.json()["timings"]["batch_size"] for r in responses if r.status_code == 200) > 1


@pytest.mark.parametrize(
    "case",
    [
        "text_file",
        "content_type",
        "truncated",
        "bad_json",
        "missing_input",
        "bad_base64",
        "unknown_field",
        "bad_param",
        "model_param",
        "bomb",
        "too_many_pixels",
        "body_too_large",
    ],
)
def test_bad_input(tmp_path, case):
    config = ServeConfig(max_body_bytes=200_000, max_pixels=None if case != "too_many_pixels" else 10_000)
    png = png_bytes(solid(RED, 128))
    with running(make_app(tmp_path, config)) as url, httpx.Client(base_url=url, timeout=30) as client:
        start = time.perf_counter()
        if case == "text_file":
            r, want, words = upload(client, b"hello, not an image"), 415, "not an image"
        elif case == "content_type":
            r, want, words = (
                client.post("/run", content=png, headers={"content-type": "image/png"}),
                415,
                "content type",
            )
        elif case == "truncated":
            r, want, words = upload(client, png[: len(png) // 2]), 422, "truncated or corrupt"
        elif case == "bad_json":
            r, want, words = (
                client.post("/run", content=b"{oops", headers={"content-type": "application/json"}),
                422,
                "not valid JSON",
            )
        elif case == "missing_input":
            r, want, words = client.post("/run", json={"inputs": {}}), 422, "missing image input 'image'"
        elif case == "bad_base64":
            r, want, words = (
                client.post("/run", json={"inputs": {"image": {"base64": "@@@"}}}),
                422,
                "not valid base64",
            )
        elif case == "unknown_field":
            r, want, words = upload(client, png, name="picture"), 422, "unknown form field 'picture'"
        elif case == "bad_param":
            r = client.post(
                "/run",
                json={
                    "inputs": {"image": base64.b64encode(png).decode()},
                    "params": {"colour": {"top_k": 9}},
                },
            )
            want, words = 422, "top_k"
        elif case == "model_param":
            r = upload(client, png, data={"params": json.dumps({"colour": {"delay_s": 1}})})
            want, words = 422, "not changeable per request"
        elif case == "bomb":
            r, want, words = upload(client, png_bomb()), 413, "too large"
        elif case == "too_many_pixels":
            r, want, words = upload(client, png), 413, "too large"
        else:
            r, want, words = upload(client, b"\0" * 300_000), 413, "too large"
        assert time.perf_counter() - start < 5
        assert r.status_code == want, r.text
        detail = r.json()["detail"]
        assert words in detail and "\n" not in detail
        assert client.get("/health").status_code == 200  # the server carries on


def test_queue_full_gives_503_with_retry_after(tmp_path):
    config = ServeConfig(max_batch=1, max_wait_ms=0, max_queue=1)
    with running(make_app(tmp_path, config, delay_s=0.3)) as url:

        async def flood():
            async with httpx.AsyncClient(base_url=url, timeout=30) as client:
                data = png_bytes(solid(RED))
                return await asyncio.gather(
                    *[client.post("/run", files={"image": ("x.png", data)}) for _ in range(6)]
                )

        responses = asyncio.run(flood())
    codes = sorted(r.status_code for r in responses)
    assert 200 in codes and 503 in codes, codes
    busy = next(r for r in responses if r.status_code == 503)
    assert busy.headers["retry-after"] == "1" and "server busy" in busy.json()["detail"]


def test_bearer_token(tmp_path):
    with (
        running(make_app(tmp_path, ServeConfig(token="s3cret"))) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        png = png_bytes(solid(RED))
        assert upload(client, png).status_code == 401
        r = upload(client, png, headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert client.get("/pipeline").status_code == 401 and client.get("/metrics").status_code == 401
        assert upload(client, png, headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert client.get("/health").status_code == 200 and client.get("/").status_code == 200


def test_start_up_errors_are_one_line(tmp_path):
    with pytest.raises(WorkflowError, match="refusing the warm-up image"):
        make_app(tmp_path, warmup_fail="true")
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nname: x\ntasks:\n  - id: a\n    task: serve_dominant_colourr\n")
    with pytest.raises(WorkflowError, match="did you mean 'serve_dominant_colour'"):
        prepare(bad, ServeConfig(), registry=colour_registry())


def test_streamed_body_over_the_limit_is_413(tmp_path):
    config = ServeConfig(max_body_bytes=100_000)

    def chunks():
        for _ in range(50):
            yield b"x" * 10_000

    with running(make_app(tmp_path, config)) as url, httpx.Client(base_url=url, timeout=30) as client:
        r = client.post("/run", content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413 and "request body too large" in r.json()["detail"]
        assert client.get("/health").status_code == 200


def test_json_url_input(tmp_path):
    import http.server
    import threading

    (tmp_path / "red.png").write_bytes(png_bytes(solid(RED)))
    handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=str(tmp_path))  # noqa: E731
    files = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=files.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{files.server_address[1]}"
    try:
        with running(make_app(tmp_path)) as url, httpx.Client(base_url=url, timeout=30) as client:
            r = client.post("/run", json={"inputs": {"image": {"url": f"{base}/red.png"}}})
            assert (
                r.status_code == 200 and r.json()["outputs"]["classification"]["classes"][0]["label"] == "red"
            )
            r = client.post("/run", json={"inputs": {"image": {"url": f"{base}/missing.png"}}})
            assert r.status_code == 422 and "404" in r.json()["detail"]
            r = client.post("/run", json={"inputs": {"image": {"url": "file:///etc/passwd"}}})
            assert r.status_code == 422 and "only http(s) urls" in r.json()["detail"]
    finally:
        files.shutdown()
