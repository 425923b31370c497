/** Built-in score mods: `sl.scoreMods.alibi(H)`, `softcap(c)`, `relativeBias(table, maxDistance)`. */
export { alibi } from "./alibi.js";
export { softcap } from "./softcap.js";
export { relativeBias } from "./relative-bias.js";
