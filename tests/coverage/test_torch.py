"""torch (CPU): tensors and views sharing storage, modules, optimizer state, data loading.

Optimizers come back with their whole ``__dict__`` (elastic_kernel/store/_torch.py): torch's own
pickling drops the scheduler's ``step`` wrapper, ``_opt_called`` and registered hooks.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.coverage.harness import Scenario

SCENARIO = Scenario(
    library="torch",
    requires=("torch",),
    cells=(
        "import torch\nfrom torch import nn\ntorch.manual_seed(0)\nbase = torch.arange(24.0).reshape(4, 6)\nrow = base[1]\ncolumn = base[:, 2]\nreshaped = base.view(6, 4)\ntransposed = base.t()\nrow[0] = -1.0",
        "tensors = {'int': torch.tensor([1, 2, 3]), 'bool': torch.tensor([True, False]), 'half': torch.ones(3, dtype=torch.float16), 'bf16': torch.ones(2, dtype=torch.bfloat16), 'cplx': torch.tensor([1 + 2j]), 'u8': torch.zeros(2, dtype=torch.uint8), 'sparse': torch.eye(3).to_sparse(), 'expanded': torch.tensor([1.0, 2.0]).expand(3, 2), 'size': torch.Size([2, 3]), 'dtype': torch.float64, 'device': torch.device('cpu'), 'grad_leaf': torch.ones(2, requires_grad=True)}\ngen = torch.Generator().manual_seed(42)\ndraw = torch.rand(3, generator=gen)",
        "class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.body = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.1), nn.Linear(8, 3))\n        self.norm = nn.BatchNorm1d(4)\n    def forward(self, x):\n        return self.body(self.norm(x))\nnet = Net()\nmodules = {'conv': nn.Conv2d(1, 2, 3), 'lstm': nn.LSTM(4, 5, batch_first=True), 'gru': nn.GRU(3, 3), 'emb': nn.Embedding(10, 4), 'ln': nn.LayerNorm(4), 'attn': nn.MultiheadAttention(4, 2), 'enc': nn.TransformerEncoderLayer(4, 2, dim_feedforward=8), 'ce': nn.CrossEntropyLoss(), 'mse': nn.MSELoss(), 'pool': nn.MaxPool2d(2), 'flat': nn.Flatten(), 'dict': nn.ModuleDict({'a': nn.Tanh()}), 'list': nn.ModuleList([nn.GELU(), nn.Sigmoid()])}\nweight = net.body[0].weight",
        "from torch.utils.data import TensorDataset, DataLoader, random_split, RandomSampler, BatchSampler, SequentialSampler\nfeatures = torch.randn(32, 4)\nlabels = torch.randint(0, 3, (32,))\ndataset = TensorDataset(features, labels)\ntrain, valid = random_split(dataset, [24, 8], generator=torch.Generator().manual_seed(1))\nloader = DataLoader(train, batch_size=8, shuffle=True, generator=torch.Generator().manual_seed(2))\nsamplers = {'rand': RandomSampler(dataset, generator=torch.Generator().manual_seed(3)), 'seq': SequentialSampler(dataset), 'batch': BatchSampler(SequentialSampler(dataset), 4, False)}",
        "opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)\nadam = torch.optim.Adam(modules['emb'].parameters(), lr=0.01)\nsched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)\nloss_fn = nn.CrossEntropyLoss()\nnet.train()\nfor xb, yb in loader:\n    opt.zero_grad()\n    loss = loss_fn(net(xb), yb)\n    loss.backward()\n    opt.step()\nsched.step()\nemb_loss = modules['emb'](torch.tensor([1, 2])).sum()\nemb_loss.backward()\nadam.step()\nnet.eval()\nfinal_loss = loss.item()",
        "dists = {'normal': torch.distributions.Normal(torch.zeros(2), torch.ones(2)), 'cat': torch.distributions.Categorical(probs=torch.tensor([0.2, 0.8])), 'bern': torch.distributions.Bernoulli(0.3)}\nbatches = iter(DataLoader(dataset, batch_size=4))\nfirst_batch = next(batches)",
    ),
    # The DataLoader iterator cannot be pickled and is linked to the data it iterates over; the
    # kernel judges the data cell nondeterministic, so all of them are reported lost by name.
    lost={
        name: "cannot be pickled"
        for name in (
            "batches",
            "dataset",
            "features",
            "labels",
            "loader",
            "samplers",
            "train",
            "valid",
        )
    },
)


@pytest.mark.coverage
def test_torch(check_scenario: Any) -> None:
    check_scenario(SCENARIO)
