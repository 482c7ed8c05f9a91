-- sweep.lua: a hyperparameter sweep for TensorBoard's HParams dashboard. A grid of six trials
-- (three learning rates x two optimizers) each trains a small noisy linear model; every trial is a
-- run of its own (logdir/<trial>) holding its hyperparameters and its loss and accuracy scalars,
-- and the logdir's root run holds the experiment config that names them.
--
--   tbtrace scripts/examples/sweep.lua [logdir] [steps]
--   tensorboard --logdir logs/sweep        (HParams: table view, parallel coordinates, scatter)

local tbtrace = require "tbtrace"

local logdir = arg and arg[1] or "logs/sweep"
local steps = math.tointeger(tonumber(arg and arg[2] or "100")) or 100

local learning_rates = { 0.003, 0.03, 0.3 }
local optimizers = { "sgd", "momentum" }

-- The experiment: which hyperparameters and metrics the dashboard shows.
local root = assert(tbtrace.create_file_writer(logdir))
root:as_default(function()
  assert(tbtrace.hparams.config {
    hparams = {
      { name = "lr", min = 0.001, max = 1.0, display_name = "learning rate" },
      { name = "optimizer", values = optimizers },
      { name = "features", values = { 4 } },
    },
    metrics = {
      { tag = "loss", display_name = "final loss" },
      { tag = "accuracy", display_name = "sign accuracy" },
    },
  })
end)
root:close()

-- One trial: fit y = w_true . x by gradient descent; accuracy is how often the prediction has the
-- sign of the target.
local function train(hp, rng_seed)
  math.randomseed(rng_seed)
  local n = hp.features
  local w_true, w, v = {}, {}, {}
  for j = 1, n do w_true[j], w[j], v[j] = (j - n / 2) / n, 0, 0 end
  local loss, correct = 0, 0
  for step = 1, steps do
    local x, y, pred = {}, 0, 0
    for j = 1, n do
      x[j] = math.random() * 2 - 1
      y = y + w_true[j] * x[j]
      pred = pred + w[j] * x[j]
    end
    local err = pred - y
    loss = 0.9 * loss + 0.1 * err * err
    if (pred >= 0) == (y >= 0) then correct = correct + 1 end
    for j = 1, n do
      local g = 2 * err * x[j]
      if hp.optimizer == "momentum" then
        v[j] = 0.9 * v[j] + g
        g = v[j]
      end
      w[j] = w[j] - hp.lr * g
    end
    tbtrace.scalar("loss", loss, step)
    tbtrace.scalar("accuracy", correct / step, step)
  end
  return loss
end

local trial = 0
for _, lr in ipairs(learning_rates) do
  for _, optimizer in ipairs(optimizers) do
    trial = trial + 1
    local hp = { lr = lr, optimizer = optimizer, features = 4 }
    local run = ("%s/trial-%d"):format(logdir, trial)
    local w = assert(tbtrace.create_file_writer(run))
    w:as_default(function()
      local session <close> = assert(tbtrace.hparams.run(hp, { trial_id = ("trial-%d"):format(trial) }))
      local loss = train(hp, trial)
      print(("trial-%d  lr=%-5g optimizer=%-8s final loss %.5f"):format(trial, lr, optimizer, loss))
    end)
    w:close()
  end
end
