package main

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// awsSecrets reads Secrets Manager and SSM Parameter Store with the
// function's role.
type awsSecrets struct {
	sm  *secretsmanager.Client
	ssm *ssm.Client
}

func newAWSSecrets(ctx context.Context) (Secrets, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("AWS configuration for Secrets Manager / SSM: %w", err)
	}
	return &awsSecrets{sm: secretsmanager.NewFromConfig(cfg), ssm: ssm.NewFromConfig(cfg)}, nil
}

func (s *awsSecrets) SecretString(ctx context.Context, id string) (string, error) {
	out, err := s.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
	if err != nil {
		return "", err
	}
	if out.SecretString == nil {
		return "", fmt.Errorf("secret %q has no string value", id)
	}
	return *out.SecretString, nil
}

func (s *awsSecrets) Parameter(ctx context.Context, name string) (string, error) {
	out, err := s.ssm.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name), WithDecryption: aws.Bool(true)})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.Parameter.Value), nil
}
