-- policy.lua: names the exports of consumer_policy.c and numbers their steps.
return {
  name = function(ctx) return "policy_export_" .. ctx.export_index end,
  step = function(ctx) return ctx.export_index * 10 end,
}
