"""Faiss's IndexIVFPQ on the vectors benchFaiss.ts hands over: recall@10 at each nprobe, PQ alone and re-ranked.

Run by scripts/benchFaiss.ts (npm run bench:faiss) with one JSON argument:
  base, queries: .npy float32 [n × d]; kth: .npy float64 [queries], each query's 10th true distance;
  metric: l2 | cosine; nlist, m, nbits, sample: as ParquetSeek built its index; refine: its re-rank
  factor (IndexRefineFlat's k_factor); nprobes: the sweep.
Prints one JSON object: {"nprobe": [...], "pq": [...], "refined": [...], "trainMs": t}.
A result counts when it is as near as the query's 10th true neighbour (ties are real in SIFT),
as ParquetSeek's recall counts it (compute/metric.ts tieLimit).
"""
import json
import sys
import time

import faiss
import numpy as np

a = json.loads(sys.argv[1])
faiss.omp_set_num_threads(a.get("threads", 2))
xb = np.load(a["base"]).astype(np.float32)
xq = np.load(a["queries"]).astype(np.float32)
kth = np.load(a["kth"]).astype(np.float64)
if a["metric"] == "cosine":
    # cosine ranks as L2 over unit vectors
    faiss.normalize_L2(xb)
    faiss.normalize_L2(xq)
n, d = xb.shape
k = 10
limit = kth + np.abs(kth) * 1e-5 + 1e-6

quantizer = faiss.IndexFlatL2(d)
index = faiss.IndexIVFPQ(quantizer, d, a["nlist"], a["m"], a["nbits"])
rng = np.random.default_rng(1)
sample = xb[np.sort(rng.choice(n, min(n, a["sample"]), replace=False))]
t0 = time.perf_counter()
index.train(sample)
train_ms = (time.perf_counter() - t0) * 1000
refined = faiss.IndexRefineFlat(index)
refined.add(xb)  # (adds to the IVF-PQ index too)
refined.k_factor = a["refine"]


def recall(ids: np.ndarray) -> float:
    hits = 0
    for q in range(len(xq)):
        got = ids[q][ids[q] >= 0]
        diff = xb[got].astype(np.float64) - xq[q].astype(np.float64)
        dist = np.sqrt((diff * diff).sum(axis=1))
        if a["metric"] == "cosine":
            dist = dist * dist / 2  # 1 − cos of unit vectors
        hits += min(k, int((dist <= limit[q]).sum()))
    return hits / (len(xq) * k)


out = {"nprobe": [], "pq": [], "refined": [], "trainMs": round(train_ms)}
for p in a["nprobes"]:
    index.nprobe = p
    _, ids = index.search(xq, k)
    _, ids_refined = refined.search(xq, k)
    out["nprobe"].append(p)
    out["pq"].append(recall(ids))
    out["refined"].append(recall(ids_refined))
print(json.dumps(out))
