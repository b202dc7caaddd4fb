"""Run under `accelerate launch --num_processes 2`: write which training windows each process gets."""

import json
import sys

from accelerate import Accelerator

from albert_bench.train import make_loader


def main() -> None:
    acc = Accelerator(cpu=True)
    loader, sampler = make_loader(int(sys.argv[2]), 4, 42, lambda idx: list(idx))
    loader = acc.prepare(loader)
    seen = {}
    for epoch in (0, 1):
        sampler.use_epoch(epoch)
        seen[epoch] = [i for batch in loader for i in batch]
    with open(f"{sys.argv[1]}.rank{acc.process_index}", "w") as f:
        json.dump({"rank": acc.process_index, "world": acc.num_processes, "backend": str(acc.state.backend), "seen": seen}, f)


if __name__ == "__main__":
    main()
