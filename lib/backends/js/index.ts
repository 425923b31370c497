/**
 * The JS reference backend: importing this module registers every JS op with the registry.
 * Each op's module registers itself on import (so a test can import one op alone); this file
 * only makes sure they are all imported. lib/index.ts imports it once.
 */
import "./attention.js";
import "./decode-attention.js";
