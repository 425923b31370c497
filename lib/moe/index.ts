/**
 * Mixture-of-Experts: routers, losses, capacity, dispatch/combine, expert layers, metrics,
 * traces, a balance simulator and expert prediction. Exposed as `sl.moe`.
 * @example
 * const r = sl.moe.route(sl.moe.randomLogits(256, 8, { seed: 1 }), { router: "softmax-topk", k: 2 });
 * display(r);
 */
export { route, randomLogits, type RouteOptions } from "./route.js";
export { RoutingRecord, type RouterKind, type RoutingRecordFields } from "./record.js";
export { expertCapacity, type DropPolicy, type DroppedAssignment } from "./capacity.js";
export { loadBalancingLoss, routerZLoss, type LoadBalancingLoss, type LossNormalization, type RoutingLosses } from "./losses.js";
export { updateExpertBias } from "./routers/deepseek-v3.js";
export { sinkhornBalance } from "./routers/sinkhorn.js";
export type { SecondExpertPolicy } from "./routers/gshard.js";
export type { MatrixLike } from "./input.js";
export { dispatch, unpermute, combine, dispatchPlan, type DispatchPlan } from "./dispatch.js";
export { layer, MoeLayer, type MoeLayerOptions, type MoeForward, type MoeTimings, type SharedExperts } from "./layer.js";
export { initExperts, expertsFromSafetensors, type ExpertWeights, type ExpertNaming, type LoadedMoeWeights } from "./expert-weights.js";
export type { Activation } from "./activations.js";
export { routingMetrics, layerSummary, type RoutingMetrics } from "./metrics.js";
export { readRoutingTrace, readRoutingTraceFile, toRoutingTrace } from "./traces.js";
export { simulateBalance, BalanceSimResult, type BalanceSimOptions, type BalanceStep, type BalanceMode } from "./balance-sim.js";
export { crossLayerGateHitRate, frequencyCacheHitRate, sameIdsHitRate, expertPredictionReport, type PredictionLayer } from "./prediction.js";
