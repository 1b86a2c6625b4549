// Smoke program for the end-to-end engine tests (tests/engine-smoke.test.ts).
//
// It declares one small dynamic resource, `SmokeFile`, whose provider keeps a text file in a directory
// given by stack config. The file is the "real world" the resource governs, so a test can create drift by
// editing or deleting it and then watch `refresh` and `preview` notice.
//
// The program also reads a secret config value and passes it through a secret input and a secret stack
// output, so a test can check that the exported deployment never holds it in plain text.
//
// The default export is a function: the engine harness runs it as an inline program (each engine
// operation calls it again), and the Node.js runtime of `pulumi up` accepts the same shape.
import * as pulumi from "@pulumi/pulumi";

/** Inputs of a SmokeFile, as the provider receives them (resolved values). */
interface SmokeFileProps {
    /** Directory that holds the file. */
    dir: string;
    /** File name inside `dir`. Changing it replaces the resource. */
    name: string;
    /** Text the file must contain. */
    content: string;
    /** Secret carried through state; never written to the file. */
    token: string;
}

/** Outputs of a SmokeFile: the inputs plus the absolute path. */
interface SmokeFileOuts extends SmokeFileProps {
    path: string;
}

class SmokeFileProvider implements pulumi.dynamic.ResourceProvider<SmokeFileProps, SmokeFileOuts> {
    public static readonly instance = new SmokeFileProvider();

    async check(_olds: SmokeFileProps, news: SmokeFileProps): Promise<pulumi.dynamic.CheckResult<SmokeFileProps>> {
        const failures: pulumi.dynamic.CheckFailure[] = [];
        if (typeof news.name === "string" && (news.name.includes("/") || news.name === "")) {
            failures.push({ property: "name", reason: "must be a plain, non-empty file name" });
        }
        return { inputs: news, failures };
    }

    async diff(_id: string, olds: SmokeFileOuts, news: SmokeFileProps): Promise<pulumi.dynamic.DiffResult> {
        const replaces = ["dir", "name"].filter((k) => olds[k as keyof SmokeFileProps] !== news[k as keyof SmokeFileProps]);
        const changes = replaces.length > 0 || olds.content !== news.content || olds.token !== news.token;
        return { changes, replaces, deleteBeforeReplace: false };
    }

    async create(inputs: SmokeFileProps): Promise<pulumi.dynamic.CreateResult<SmokeFileOuts>> {
        const fs: typeof import("fs") = require("fs");
        const path: typeof import("path") = require("path");
        const file = path.join(inputs.dir, inputs.name);
        fs.mkdirSync(inputs.dir, { recursive: true });
        fs.writeFileSync(file, inputs.content);
        return { id: file, outs: { ...inputs, path: file } };
    }

    async read(id: string, props?: SmokeFileOuts): Promise<pulumi.dynamic.ReadResult<SmokeFileOuts>> {
        const fs: typeof import("fs") = require("fs");
        let content: string;
        try {
            content = fs.readFileSync(id, "utf8");
        } catch (e) {
            if ((e as NodeJS.ErrnoException).code === "ENOENT") {
                return {}; // gone: refresh drops it from state
            }
            throw e;
        }
        const outs = { ...(props as SmokeFileOuts), path: id, content };
        return { id, props: outs };
    }

    async update(id: string, _olds: SmokeFileOuts, news: SmokeFileProps): Promise<pulumi.dynamic.UpdateResult<SmokeFileOuts>> {
        const fs: typeof import("fs") = require("fs");
        fs.writeFileSync(id, news.content);
        return { outs: { ...news, path: id } };
    }

    async delete(id: string): Promise<void> {
        const fs: typeof import("fs") = require("fs");
        fs.rmSync(id, { force: true });
    }
}

export interface SmokeFileArgs {
    dir: pulumi.Input<string>;
    name: pulumi.Input<string>;
    content: pulumi.Input<string>;
    token: pulumi.Input<string>;
}

export class SmokeFile extends pulumi.dynamic.Resource {
    declare readonly path: pulumi.Output<string>;
    declare readonly content: pulumi.Output<string>;

    constructor(name: string, args: SmokeFileArgs, opts?: pulumi.CustomResourceOptions) {
        super(SmokeFileProvider.instance, name, { path: undefined, ...args }, opts, "smoke", "File");
    }
}

export default async function program(): Promise<Record<string, unknown>> {
    const config = new pulumi.Config();
    const file = new SmokeFile("greeting", {
        dir: config.require("dir"),
        name: "greeting.txt",
        content: config.get("content") ?? "hello from quay-mirror\n",
        token: config.requireSecret("token"),
    });
    return {
        path: file.path,
        content: file.content,
        token: config.requireSecret("token"),
    };
}
