// Quay's own naming rules (github.com/quay/quay util/validation.py, util/names.py, data/model/team.py), as
// zod schemas, so that a bad name is refused by `check` (naming the field) before any API call.
import { z } from "zod";

/** VALID_USERNAME_REGEX: users, organizations, robot short names and teams share it. */
export const QUAY_NAME_PATTERN = "^([a-z0-9]+(?:[._-][a-z0-9]+)*)$";
/** The extended repository name rule (FEATURE_EXTENDED_REPOSITORY_NAMES, Quay's default). */
export const QUAY_REPOSITORY_PATTERN = "^(?=.{0,255}$)[a-z0-9][\\.a-z0-9_-]*(?:\\/[a-z0-9][\\.a-z0-9_-]*)*$";

function quayName(what: string) {
  return z
    .string()
    .min(2, `${what} must be between 2 and 255 characters in length`)
    .max(255, `${what} must be between 2 and 255 characters in length`)
    .regex(new RegExp(QUAY_NAME_PATTERN), `${what} must match expression ${QUAY_NAME_PATTERN} (lowercase letters and digits, separated by single '.', '_' or '-')`);
}

// Lengths as Quay enforces them (util/validation.py MIN/MAX_USERNAME_LENGTH for organizations, users and robot
// short names; data/model/team.py MIN/MAX_TEAMNAME_LENGTH). The length gets its own message: a 256-character
// name is not "not lowercase".
const lengthMessage = (what: string, n: number) =>
  `${what} is ${n} characters long; Quay allows 2 to 255 — fix: use a name of 2 to 255 characters`;

/**
 * A Quay name in the operator's files (the registry model, the QuayHost settings), with the fix in every
 * message. Providers' `check` uses the `quayName` rules above, whose messages follow Quay's own.
 */
export const quayNameSetting = (what: string) =>
  z
    .string({ error: `${what} must be a string` })
    .min(2, { error: (issue) => lengthMessage(what, String(issue.input).length), abort: true })
    .max(255, { error: (issue) => lengthMessage(what, String(issue.input).length), abort: true })
    .regex(
      new RegExp(QUAY_NAME_PATTERN),
      `${what} must be lowercase letters and digits separated by single '.', '_' or '-' — fix: rename it so (no spaces, quotes, '$', '+', '/' or other symbols)`,
    );

export const namespaceName = () => quayName("Namespace");
export const teamName = () => quayName("Team name");
export const robotShortName = () => quayName("Robot short name");
export const userName = () => quayName("Username");

/** `namespace+short` as Quay formats robot usernames. */
export const robotFullName = () =>
  z.string().regex(new RegExp(`^${QUAY_NAME_PATTERN.slice(1, -1)}\\+${QUAY_NAME_PATTERN.slice(1, -1)}$`), "must be a robot name of the form <namespace>+<shortname>");

export const repositoryName = () =>
  z
    .string()
    .min(1, "Repository name must not be empty")
    .regex(new RegExp(QUAY_REPOSITORY_PATTERN), `Repository name must match ${QUAY_REPOSITORY_PATTERN} (lowercase path segments separated by '/', at most 255 characters)`);

export const repositoryRole = () => z.enum(["read", "write", "admin"], { message: "role must be one of read, write, admin" });
export const teamRole = () => z.enum(["member", "creator", "admin"], { message: "role must be one of member, creator, admin" });
export const visibility = () => z.enum(["private", "public"], { message: "visibility must be private or public" });

/** validate_password: at least 8 characters, no whitespace. */
export const password = () =>
  z.string().min(8, "password must be at least 8 characters and contain no whitespace").regex(/^\S+$/, "password must be at least 8 characters and contain no whitespace");

export const tagExpirationSeconds = () => z.number().int("must be a whole number of seconds").min(0, "must be 0 or more seconds");

/** Splits `org+short` into its parts (undefined when it is not a robot name). */
export function splitRobotName(fullName: string): { namespace: string; shortName: string } | undefined {
  const plus = fullName.indexOf("+");
  if (plus <= 0 || plus === fullName.length - 1) return undefined;
  return { namespace: fullName.slice(0, plus), shortName: fullName.slice(plus + 1) };
}
