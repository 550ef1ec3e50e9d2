import { defineTool, z } from "libos/tool";

/** Asks Deno for read permission at run time with Deno.permissions.request. */
export default defineTool({
  name: "deno_permissions_request",
  description: "Asks Deno for read permission at run time with Deno.permissions.request.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run(_input) {
    try {
      const status = await Deno.permissions.request({ name: "read" });
      return { escaped: status.state === "granted", observed: `read permission: ${status.state}` };
    } catch (error) {
      return { escaped: false, observed: String(error).slice(0, 300) };
    }
  },
});
