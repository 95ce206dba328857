// The Node.js comparison for cold starts: what a Node.js Lambda doing GET /users/me does at
// start and on its first event. The handler module loads @aws-sdk/client-dynamodb and builds its
// client at init (as a Node.js handler would at module scope); each event is one GetItem against
// the same DynamoDB Local (AWS_ENDPOINT_URL_DYNAMODB), answered as an HTTP API response. The loop
// is the runtime API handshake Lambda's own Node.js runtime performs.
import { DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb";

const api = `http://${process.env.AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime`;
const client = new DynamoDBClient({});

async function handle() {
  const out = await client.send(
    new GetItemCommand({
      TableName: process.env.TABLE_NAME,
      Key: { pk: { S: "USER#alice" }, sk: { S: "PROFILE" } },
    }),
  );
  const found = out.Item !== undefined;
  return { statusCode: found ? 200 : 404, body: JSON.stringify({ username: found ? out.Item.username?.S : null }) };
}

for (;;) {
  const next = await fetch(`${api}/invocation/next`);
  const id = next.headers.get("lambda-runtime-aws-request-id");
  await next.json();
  const result = await handle();
  await fetch(`${api}/invocation/${id}/response`, { method: "POST", body: JSON.stringify(result) });
}
