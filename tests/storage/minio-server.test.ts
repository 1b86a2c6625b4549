// The real MinIO the storage, backup and workflow tests run against: it starts, keeps users apart, stops.
import { Minio, startMinio } from "../support/minio";

jest.setTimeout(120_000);

let minio: Minio;
beforeAll(async () => {
  minio = await startMinio();
});
afterAll(async () => {
  await minio?.stop();
});

test("the root user creates a bucket and a user; the user sees nothing it was not granted", async () => {
  await minio.mc(["mb", "root/probe-bucket"]);
  await minio.mc(["pipe", "root/probe-bucket/hello.txt"], { stdin: "hello" });
  const user = { accessKey: "probe-user", secretKey: "probe-secret-0123456789" };
  await minio.mc(["admin", "user", "add", "root", user.accessKey], { stdin: `${user.secretKey}\n` }).catch(async () => {
    // older mc takes the secret as an argument only; the test's throwaway secret may go there
    await minio.mc(["admin", "user", "add", "root", user.accessKey, user.secretKey]);
  });
  const denied = await minio.mc(["cat", "u/probe-bucket/hello.txt"], { as: user, allowFailure: true });
  expect(denied.code).not.toBe(0);
  expect(denied.stdout).toMatch(/Access Denied|Insufficient permissions/i);
  const read = await minio.mc(["cat", "root/probe-bucket/hello.txt"], { allowFailure: true });
  expect(read.stdout).toContain("hello");
});
