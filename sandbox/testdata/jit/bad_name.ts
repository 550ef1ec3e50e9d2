import { defineTool, z } from "libos/tool";

/** Type-checks and passes the static check, but defineTool refuses its name when it loads. */
export default defineTool({
  name: "Not A Name",
  description: "A tool whose name defineTool refuses",
  input: z.object({}),
  output: z.object({}),
  run() {
    return Promise.resolve({});
  },
});
