"""`python -m curate.pretrain ...` (also under torchrun: `torchrun --nproc-per-node N -m curate.pretrain ...`)."""

import sys

from curate.pretrain.train import main

if __name__ == "__main__":
    main(sys.argv[1:])
