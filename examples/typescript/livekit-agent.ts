/**
 * A LiveKit voice agent (Node) that remembers its callers, with voxmem.
 *
 *   pip install -e /path/to/voxmem           # the local memory runtime (`voxmem` command)
 *   (cd /path/to/voxmem/clients/typescript && npm ci && npm run build)
 *   npm install                              # here: @voxmem/client from the clone, tsx
 *   npm run dev                              # serve rooms of your LiveKit server
 *
 * `dev` and `start` need LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET. LiveKit's
 * terminal `console` mode is Python's only (examples/livekit_agent.py): the Node CLI's
 * `console` attaches to a broker and refuses to start without `--connect-addr`.
 *
 * Who the caller is comes from the job metadata your token server sets
 * (`{"user_id": "..."}`), else the SIP caller's number, else the remote participant's
 * identity — never the agent's own. The first `VoiceClient` call starts the local
 * runtime if none is running; every worker process on the host shares it.
 */
import { type JobContext, ServerOptions, cli, defineAgent, voice } from "@livekit/agents";
import { fileURLToPath } from "node:url";

import { VoiceClient } from "@voxmem/client";
import { MemoryAgent, memoryTools } from "@voxmem/client/livekit";

const INSTRUCTIONS = `You are Ava, the front desk of a small repair shop. Keep answers short.
Use what you know about the caller naturally; never read it out as a list.`;

export default defineAgent({
  entry: async (ctx: JobContext) => {
    await ctx.connect();
    const client = new VoiceClient({ projectId: "repair-shop", agentId: "front-desk" });
    const agent = new MemoryAgent({
      client,
      instructions: INSTRUCTIONS,
      tools: memoryTools(),
    });
    // LiveKit Inference model strings; any plugin's LLM, STT and TTS work the same.
    const session = new voice.AgentSession({
      llm: "openai/gpt-4.1-mini",
      stt: "deepgram/nova-3",
      tts: "cartesia/sonic-2",
    });
    await session.start({ agent, room: ctx.room });
    // Preload ran in onEnter, so the greeting can already use the caller's name.
    session.generateReply({ instructions: "Greet the caller, by name if you know it." });
  },
});

cli.runApp(new ServerOptions({ agent: fileURLToPath(import.meta.url) }));
