import { defineTool, z } from "libos/tool";

/** Lists the network interfaces with Deno.networkInterfaces. */
export default defineTool({
  name: "sys_network_interfaces",
  description: "Lists the network interfaces with Deno.networkInterfaces.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  run(_input) {
    try {
      const names = Deno.networkInterfaces().map((i) => `${i.name}=${i.address}`);
      return Promise.resolve({ escaped: true, observed: `interfaces: ${names.join(", ")}` });
    } catch (error) {
      return Promise.resolve({ escaped: false, observed: String(error).slice(0, 300) });
    }
  },
});
