"""Classification round trip through the real inference task (random weights, 3 classes)."""

from __future__ import annotations

import asyncio
import base64
import io

import httpx
import numpy as np

from .classifier import CLASSES
from .helpers import running


def test_classification_round_trip(classifier_app, classifier_pipeline):
    photo = classifier_pipeline[1]
    with running(classifier_app) as url, httpx.Client(base_url=url, timeout=60) as client:
        r = client.post("/run?image=png", files={"image": ("chelsea.jpg", photo, "image/jpeg")})
        assert r.status_code == 200, r.text
        body = r.json()
        classes = body["outputs"]["classification"]["classes"]
        assert sorted(c["label"] for c in classes) == sorted(CLASSES)
        scores = [c["score"] for c in classes]
        assert all(isinstance(s, float) for s in scores) and scores == sorted(scores, reverse=True)
        assert abs(sum(scores) - 1.0) < 1e-4
        from PIL import Image

        annotated = np.asarray(Image.open(io.BytesIO(base64.b64decode(body["images"]["image"]["base64"]))))
        assert annotated.ndim == 3 and annotated.shape[2] == 3
        assert "classify" in body["timings"]["tasks_s"]
        # the same image as JSON base64 gives the same scores
        r2 = client.post("/run", json={"inputs": {"image": {"base64": base64.b64encode(photo).decode()}}})
        assert [c["score"] for c in r2.json()["outputs"]["classification"]["classes"]] == scores
        # top_k may change per request (no model rebuild); input_size may not
        r3 = client.post(
            "/run", files={"image": ("c.jpg", photo)}, data={"params": '{"classify": {"top_k": 1}}'}
        )
        assert [c["score"] for c in r3.json()["outputs"]["classification"]["classes"]] == scores[:1]
        r4 = client.post(
            "/run", files={"image": ("c.jpg", photo)}, data={"params": '{"classify": {"input_size": 64}}'}
        )
        assert r4.status_code == 422 and "not changeable per request" in r4.json()["detail"]
        assert client.get("/pipeline").json()["tasks"][0]["params"]["top_k"] == 3  # the override did not stay

        async def burst():
            async with httpx.AsyncClient(base_url=url, timeout=60) as aclient:
                sends = [aclient.post("/run", files={"image": ("c.jpg", photo)}) for _ in range(8)]
                return await asyncio.gather(*sends)

        responses = asyncio.run(burst())
        assert all(r.status_code == 200 for r in responses)
        batched = [r.json()["outputs"]["classification"]["classes"][0]["score"] for r in responses]
        assert np.allclose(batched, scores[0], atol=1e-5)  # batching does not change the result
        assert max(r.json()["timings"]["batch_size"] for r in responses) > 1
