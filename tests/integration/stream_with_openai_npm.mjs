// Stream one chat completion through the proxy with the openai npm package; print the assembled text as JSON.
import OpenAI from "openai";

const [baseURL, prompt] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey: "any-key", maxRetries: 0 });
const stream = await client.chat.completions.create({
  model: "haiku", stream: true, messages: [{ role: "user", content: prompt }],
});
let text = "";
let finish = null;
for await (const chunk of stream) {
  for (const choice of chunk.choices) {
    text += choice.delta?.content ?? "";
    finish = choice.finish_reason ?? finish;
  }
}
console.log(JSON.stringify({ text, finish }));
