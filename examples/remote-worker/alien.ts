// The "remote worker" pattern (seed 002): one stateless worker driven by commands.
// Written against @alienplatform/core 1.4.0, the version published on npm.
import * as alien from "@alienplatform/core"

const workspace = new alien.Storage("workspace").build()

const agent = new alien.Worker("agent")
  .code({ type: "image", image: "ghcr.io/example/agent:1.0.0" })
  .commandsEnabled(true)
  .link(workspace)
  .permissions("execution")
  .build()

export default new alien.Stack("remote-worker")
  .add(workspace, "frozen")
  .add(agent, "live")
  .permissions({
    profiles: {
      execution: { "*": ["storage/data-write"] },
    },
  })
  .build()
