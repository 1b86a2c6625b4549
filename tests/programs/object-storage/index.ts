// The ObjectStorage component on its own, for tests/storage/object-storage-engine.test.ts: the MinIO side of
// the mirror (buckets, policies, users) against the MinIO the test starts. Config: `endpoint`,
// `adminAccessKey`, `adminSecretKey` (secret), `mcPath`.
import * as pulumi from "@pulumi/pulumi";
import { ObjectStorage } from "../../../components/object-storage";

export default async () => {
    const config = new pulumi.Config();
    const storage = new ObjectStorage("storage", {
        connection: {
            endpoint: config.require("endpoint"),
            accessKey: config.require("adminAccessKey"),
            secretKey: config.requireSecret("adminSecretKey"),
            mcPath: config.require("mcPath"),
        },
    });
    return {
        endpoint: storage.endpoint,
        storageBucket: storage.storageBucketName,
        backupBucket: storage.backupBucketName,
        storageCredentials: storage.storageCredentials,
        backupCredentials: storage.backupCredentials,
        restoreCredentials: storage.restoreCredentials,
    };
};
