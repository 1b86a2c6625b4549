// quay-mirror: the program composes config, components and providers; it holds no logic of its own.
import * as pulumi from "@pulumi/pulumi";

const stack = pulumi.getStack();
export const stackName = stack;
