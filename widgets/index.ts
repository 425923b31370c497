/**
 * sparselab widgets: Jupyter widgets (protocol 2.1, @jupyter-widgets/controls 2.0) for
 * TypeScript, both ways: kernel-side changes update the page, page changes fire observers.
 *
 * In the sparselab kernel these are the `widgets` namespace (and `interact` is global);
 * elsewhere: `import { IntSlider } from "sparselab/widgets"`.
 * @example
 * const s = new widgets.IntSlider({ value: 256, max: 4096, step: 64, description: "window" });
 * s.observe("value", (c) => console.log(c.new));
 * s
 */
export { Widget, closeAll, type Change, type Observer, type CustomHandler, type ModelSpec, type ErrorSink } from "./widget.js";
export { DOMWidget, Layout, Style, type LayoutOptions, type DOMWidgetOptions, type DescriptionOptions } from "./dom-widget.js";
export {
  IntSlider, FloatSlider, FloatLogSlider, IntRangeSlider, FloatRangeSlider,
  type IntSliderOptions, type FloatSliderOptions, type FloatLogSliderOptions, type IntRangeSliderOptions,
  type FloatRangeSliderOptions, type SliderStyle,
} from "./sliders.js";
export {
  Selection, Dropdown, Select, RadioButtons, ToggleButtons, SelectionSlider, SelectMultiple,
  type SelectionOptions, type SelectOptions, type ToggleButtonsOptions, type SelectionSliderOptions,
  type SelectMultipleOptions, type OptionsInput,
} from "./selection.js";
export { Checkbox, ToggleButton, type CheckboxOptions, type ToggleButtonOptions } from "./bool.js";
export {
  Text, Textarea, IntText, FloatText, BoundedIntText, BoundedFloatText,
  type TextOptions, type TextareaOptions, type IntTextOptions, type FloatTextOptions,
  type BoundedIntTextOptions, type BoundedFloatTextOptions,
} from "./text.js";
export { Button, type ButtonOptions } from "./button.js";
export { Label, HTML, HTMLMath, type LabelOptions } from "./labels.js";
export { Play, type PlayOptions } from "./play.js";
export {
  IntProgress, FloatProgress, ProgressBar, progress, track,
  type IntProgressOptions, type FloatProgressOptions, type ProgressOptions,
} from "./progress.js";
export {
  Box, HBox, VBox, GridBox, SelectionContainer, Tab, Accordion, type BoxOptions, type SelectionContainerOptions,
} from "./boxes.js";
export { Output, type OutputItem, type OutputOptions } from "./output.js";
export { link, dlink, jslink, jsdlink, JsLink, type Link, type WidgetTrait } from "./link.js";
export { interact, interactive, fixed, Fixed, Interactive, Interaction, type ValuesOf, type ControlsSpec, type ControlsOf, type ControlOf } from "./interact.js";
export { AnyWidget, widget, type AnyWidgetOptions, type CommandHandler } from "./anywidget.js";
export { widgetState, updateStatesMessage, installControlTarget, type WidgetStateSnapshot, type WidgetStateEntry } from "./state.js";
export { OutputRouter } from "./output-router.js";
export { widgetViewScript, widgetStateScript, embedManagerScript, embedBundlePath } from "./html-embed.js";
export { setKernelComms, getKernelComms, onKernelComms, type KernelComms, type CommMessageHandler } from "./comm.js";
export { lookup as widgetById, liveWidgets } from "./registry.js";
export * from "./views/index.js";
