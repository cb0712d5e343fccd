"""Every IAM policy document of deploy/: the JSON files and those in the CloudFormation templates
(role trust and inline policies, queue and bus policies), with the intrinsic functions resolved
to example values, checked with parliament. Prints each finding; exits 1 when there is any that
is not suppressed below with its reason.

    python deploy/lint/iam_policies.py [--print]   # --print: the extracted documents as JSON
    python deploy/lint/iam_policies.py --task-environment   # service.yaml's task environment
"""

import glob
import json
import os
import re
import sys

import yaml
from parliament import analyze_policy_string

ROOT = os.path.join(os.path.dirname(__file__), "..")
ACCOUNT = "111122223333"
PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::AccountId": ACCOUNT,
    "AWS::NoValue": None,
}
# Example values of the templates' parameters, shaped as the parameters require.
PARAMETERS = {
    "OrganizationId": "o-exampleorg1",
    "ExternalId": "example-external-id",
    "ToolingAccountId": "444455556666",
    "ToolingRegion": "us-east-1",
    "TaskRoleName": "sagemaker-remediator-task",
    "MemberRoleName": "SageMakerRemediator",
    "RoleName": "SageMakerRemediator",
    "FixTagKeys": ["owner"],
    "TerraformStates": ["acme-tf-state/ml/terraform.tfstate"],
    "NotificationBusArn": "arn:aws:events:us-east-1:111122223333:event-bus/smr-notifications",
}
# What Fn::GetAtt [X, Arn] gives, by resource type.
ARNS = {
    "AWS::SQS::Queue": "arn:aws:sqs:us-east-1:{a}:{n}",
    "AWS::DynamoDB::Table": "arn:aws:dynamodb:us-east-1:{a}:table/{n}",
    "AWS::Events::Rule": "arn:aws:events:us-east-1:{a}:rule/{n}",
    "AWS::IAM::Role": "arn:aws:iam::{a}:role/{n}",
}

# What Ref gives for the resource types whose Ref is an id.
REF_IDS = {
    "AWS::SQS::Queue": "https://sqs.us-east-1.amazonaws.com/111122223333/queue",
}

# Findings that are accepted, each with its reason: (document name prefix, issue code).
SUPPRESSED = {
    ("service.yaml ExecutionRole", "CREDENTIALS_EXPOSURE"): "ecr:GetAuthorizationToken: the "
    "execution role pulls the image, which is what it is for",
    ("service.yaml TaskRole", "CREDENTIALS_EXPOSURE"): "sts:AssumeRole: the daemon works "
    "through the member roles, only in the organisation (aws:ResourceOrgID)",
    ("member-account.yaml MemberRole sagemaker-remediator", "PERMISSIONS_MANAGEMENT_ACTIONS"):
    "kms:CreateGrant: SageMaker needs a grant on the key of an encrypted endpoint config it "
    "creates; only through SageMaker (kms:ViaService) and only for AWS resources",
}
# parliament reads every document as an identity policy: a trust policy has a Principal and
# no Resource, which it reports as MALFORMED.
TRUST_ONLY = "Statement contains neither Resource nor NotResource"


def resolve(node, resources):
    if isinstance(node, dict):
        if len(node) == 1:
            (key, value), = node.items()
            if key == "Ref":
                if value in PSEUDO:
                    return PSEUDO[value]
                if value in PARAMETERS:
                    return PARAMETERS[value]
                if value in resources:
                    # what Ref gives: an id or a name
                    kind = resources[value]["Type"]
                    return REF_IDS.get(kind, value)
                return value
            if key == "Fn::GetAtt":
                name, attribute = value
                kind = resources[name]["Type"]
                if attribute == "Arn":
                    return ARNS[kind].format(a=ACCOUNT, n=name)
                return name
            if key == "Fn::Sub":
                text, extra = (value, {}) if isinstance(value, str) else value
                extra = {k: resolve(v, resources) for k, v in extra.items()}

                def sub(m):
                    name = m.group(1)
                    if name in extra:
                        return str(extra[name])
                    if "." in name:
                        resource, attribute = name.split(".", 1)
                        got = resolve({"Fn::GetAtt": [resource, attribute]}, resources)
                    else:
                        got = resolve({"Ref": name}, resources)
                    return ",".join(got) if isinstance(got, list) else str(got)

                return re.sub(r"\$\{([^}!]+)\}", sub, text)
            if key == "Fn::Join":
                sep, items = value
                items = resolve(items, resources)
                flat = []
                for i in items:
                    flat.extend(i if isinstance(i, list) else [i])
                return sep.join(str(i) for i in flat)
            if key == "Fn::Split":
                sep, text = value
                return resolve(text, resources).split(sep)
            if key == "Fn::Select":
                index, items = value
                return resolve(items, resources)[int(index)]
            if key == "Fn::If":
                name, yes, no = value
                return resolve(yes if CONDITIONS.get(name, True) else no, resources)
            if key == "Fn::Equals":
                a, b = (resolve(v, resources) for v in value)
                return a == b
            if key == "Fn::Not":
                return not resolve(value[0], resources)
            if key == "Fn::And":
                return all(resolve(v, resources) for v in value)
            if key == "Fn::Or":
                return any(resolve(v, resources) for v in value)
        out = {}
        for k, v in node.items():
            r = resolve(v, resources)
            if r is not None:
                out[k] = r
        return out
    if isinstance(node, list):
        return [r for r in (resolve(v, resources) for v in node) if r is not None]
    return node


# The templates' conditions, evaluated with PARAMETERS (and the defaults) per template.
CONDITIONS = {}


def load(path):
    """A template, with its conditions evaluated into CONDITIONS and its defaults in PARAMETERS."""
    with open(path) as f:
        template = yaml.safe_load(f)
    for name, spec in template.get("Parameters", {}).items():
        if name not in PARAMETERS and "Default" in spec:
            default = spec["Default"]
            if spec["Type"] == "CommaDelimitedList":
                default = [v for v in str(default).split(",")] if default != "" else [""]
            PARAMETERS[name] = default
    CONDITIONS.clear()
    for name, expression in template.get("Conditions", {}).items():
        CONDITIONS[name] = bool(resolve(expression, template["Resources"]))
    return template


def task_environment():
    """service.yaml's container environment and secrets, resolved: what the daemon starts with."""
    template = load(os.path.join(ROOT, "cloudformation", "service.yaml"))
    resources = template["Resources"]
    container = template["Resources"]["TaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    env = {e["Name"]: resolve(e["Value"], resources) for e in container["Environment"]}
    for secret in container.get("Secrets", []):
        env[secret["Name"]] = PARAMETERS["ExternalId"]
    return env


def documents():
    for path in sorted(glob.glob(os.path.join(ROOT, "*.json"))):
        with open(path) as f:
            doc = json.load(f)
        if "Statement" in doc:
            yield os.path.basename(path), doc
    for path in sorted(glob.glob(os.path.join(ROOT, "cloudformation", "*.yaml"))):
        template = load(path)
        resources = template["Resources"]
        base = os.path.basename(path)
        for name, resource in resources.items():
            props = resource.get("Properties", {})
            kind = resource["Type"]
            if kind == "AWS::IAM::Role":
                yield f"{base} {name} trust", resolve(props["AssumeRolePolicyDocument"], resources)
                for policy in props.get("Policies", []):
                    branches = policy["Fn::If"][1:] if "Fn::If" in policy else [policy]
                    for branch in branches:
                        branch = resolve(branch, resources)
                        if branch:
                            yield f"{base} {name} {branch['PolicyName']}", branch["PolicyDocument"]
            elif kind == "AWS::IAM::Policy":
                yield f"{base} {name}", resolve(props["PolicyDocument"], resources)
            elif kind == "AWS::SQS::QueuePolicy":
                yield f"{base} {name}", resolve(props["PolicyDocument"], resources)
            elif kind == "AWS::Events::EventBusPolicy":
                statement = resolve(props["Statement"], resources)
                yield f"{base} {name}", {"Version": "2012-10-17", "Statement": [statement]}


def main():
    if "--task-environment" in sys.argv:
        for name, value in sorted(task_environment().items()):
            print(f"{name}={value}")
        return 0
    docs = list(documents())
    if "--print" in sys.argv:
        for name, doc in docs:
            print(json.dumps({"name": name, "document": doc}))
        return 0
    failed = 0
    for name, doc in docs:
        policy = analyze_policy_string(
            json.dumps(doc),
            include_community_auditors=True,
        )
        for finding in policy.findings:
            key = next((k for k in SUPPRESSED if name.startswith(k[0]) and k[1] == finding.issue), None)
            if key:
                print(f"suppressed: {name}: {finding.issue} ({SUPPRESSED[key]})")
                continue
            if name.endswith(" trust") and finding.issue == "MALFORMED" and finding.detail == TRUST_ONLY:
                continue
            failed += 1
            print(f"{name}: {finding.issue} {finding.detail} {finding.location}")
    print(f"parliament: {len(docs)} policy documents, {failed} finding(s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
